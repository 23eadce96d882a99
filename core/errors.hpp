#pragma once
// Error types of tapegrad besides std::invalid_argument (bad arguments) and
// tapegrad::io::IoError (files).
#include <cstddef>
#include <new>
#include <string>

namespace tapegrad {

/// Out of memory: a std::bad_alloc whose message names the op that asked and how many
/// bytes it asked for, e.g. "conv2d: out of memory allocating 68719476736 bytes".
class OutOfMemory : public std::bad_alloc {
 public:
  OutOfMemory(std::string op, std::size_t bytes);
  const char* what() const noexcept override { return message_.c_str(); }
  /// The op that asked for the memory ("allocate" when no op was running).
  const std::string& op() const { return op_; }
  /// Bytes requested.
  std::size_t bytes() const { return bytes_; }

 private:
  std::string op_;
  std::size_t bytes_;
  std::string message_;
};

/// While alive, names the op on whose behalf this thread allocates tensor memory, so
/// an OutOfMemory says which op ran out (the innermost scope wins).
class OpScope {
 public:
  explicit OpScope(const char* op) noexcept;
  ~OpScope();
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;
  /// The innermost op of this thread, or nullptr.
  static const char* current() noexcept;

 private:
  const char* previous_;
};

}  // namespace tapegrad
