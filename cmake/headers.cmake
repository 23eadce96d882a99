# Public headers are included as <tapegrad/core/...>, <tapegrad/layers/...>,
# <tapegrad/optim/...> and <tapegrad/tapegrad.hpp>, in this build and once installed.
#
# Installed, the headers are copied into include/tapegrad/. In the build tree each
# public header gets a one-line forwarding header at the same path under
# ${TAPEGRAD_BUILD_INCLUDE}/tapegrad/ that includes the source file by its absolute
# path, so compiler messages and editors land in the sources (no symbolic links, no
# copies to keep in sync). Headers under a detail/ folder are internal: neither
# forwarded nor installed.
include(GNUInstallDirs)
set(TAPEGRAD_BUILD_INCLUDE ${PROJECT_BINARY_DIR}/include)

file(GLOB_RECURSE TAPEGRAD_PUBLIC_HEADERS CONFIGURE_DEPENDS RELATIVE ${PROJECT_SOURCE_DIR}
     ${PROJECT_SOURCE_DIR}/core/*.hpp ${PROJECT_SOURCE_DIR}/layers/*.hpp
     ${PROJECT_SOURCE_DIR}/optim/*.hpp)
list(FILTER TAPEGRAD_PUBLIC_HEADERS EXCLUDE REGEX "(^|/)detail/")
# The distributed component has its own umbrella and is installed only when built.
set(TAPEGRAD_DISTRIBUTED_HEADERS ${TAPEGRAD_PUBLIC_HEADERS})
list(FILTER TAPEGRAD_DISTRIBUTED_HEADERS INCLUDE REGEX "^layers/distributed/")
list(FILTER TAPEGRAD_PUBLIC_HEADERS EXCLUDE REGEX "^layers/distributed/")

file(GLOB_RECURSE TAPEGRAD_ALL_HEADERS CONFIGURE_DEPENDS RELATIVE ${PROJECT_SOURCE_DIR}
     ${PROJECT_SOURCE_DIR}/core/*.hpp ${PROJECT_SOURCE_DIR}/layers/*.hpp
     ${PROJECT_SOURCE_DIR}/optim/*.hpp)
foreach(h ${TAPEGRAD_ALL_HEADERS})
  file(CONFIGURE OUTPUT ${TAPEGRAD_BUILD_INCLUDE}/tapegrad/${h}
       CONTENT "#include \"${PROJECT_SOURCE_DIR}/${h}\"\n" @ONLY)
endforeach()

# The umbrella header: every public header, listed from the tree so that none can be
# forgotten. Generated into the build tree and installed from there.
set(TAPEGRAD_UMBRELLA_INCLUDES "")
foreach(h ${TAPEGRAD_PUBLIC_HEADERS})
  string(APPEND TAPEGRAD_UMBRELLA_INCLUDES "#include <tapegrad/${h}>\n")
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/tapegrad.hpp.in
               ${TAPEGRAD_BUILD_INCLUDE}/tapegrad/tapegrad.hpp @ONLY)
