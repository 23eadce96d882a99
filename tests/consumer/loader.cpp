// Loads the plugin with dlopen (argv[1]), as a host application would, and checks that
// the training it runs converged.
#include <dlfcn.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer_loader PLUGIN.so\n");
    return 2;
  }
  void* handle = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    std::fprintf(stderr, "dlopen failed: %s\n", dlerror());
    return 1;
  }
  using Train = double (*)(int);
  auto train = reinterpret_cast<Train>(dlsym(handle, "tapegrad_plugin_train"));
  if (!train) {
    std::fprintf(stderr, "dlsym failed: %s\n", dlerror());
    return 1;
  }
  const double first = train(1), last = train(200);
  std::printf("plugin loss: %.3e after 1 step, %.3e after 200\n", first, last);
  dlclose(handle);
  return last < 1e-6 * first ? 0 : 1;
}
