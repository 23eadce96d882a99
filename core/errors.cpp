#include <tapegrad/core/errors.hpp>

namespace tapegrad {
namespace {
thread_local const char* t_current_op = nullptr;
}

OutOfMemory::OutOfMemory(std::string op, std::size_t bytes)
    : op_(std::move(op)),
      bytes_(bytes),
      message_(op_ + ": out of memory allocating " + std::to_string(bytes) + " bytes") {}

OpScope::OpScope(const char* op) noexcept : previous_(t_current_op) { t_current_op = op; }
OpScope::~OpScope() { t_current_op = previous_; }
const char* OpScope::current() noexcept { return t_current_op; }

}  // namespace tapegrad
