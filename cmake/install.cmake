# Installation and packaging: headers under include/tapegrad/, the library, and a CMake
# package so that find_package(tapegrad) gives tapegrad::tapegrad, static or shared.
#
# A static and a shared build may be installed into the same prefix: each installs
# its own targets file (tapegrad-static-targets.cmake, tapegrad-shared-targets.cmake)
# and tapegradConfig.cmake loads one, following the user's BUILD_SHARED_LIBS (or
# tapegrad_SHARED), or whichever is there.
include(CMakePackageConfigHelpers)

if(BUILD_SHARED_LIBS)
  set(TAPEGRAD_LINKAGE shared)
else()
  set(TAPEGRAD_LINKAGE static)
endif()

install(TARGETS tapegrad EXPORT tapegradTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
                NAMELINK_COMPONENT development
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(h ${TAPEGRAD_PUBLIC_HEADERS})
  get_filename_component(dir ${h} DIRECTORY)
  install(FILES ${h} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tapegrad/${dir}
          COMPONENT development)
endforeach()
install(FILES ${TAPEGRAD_BUILD_INCLUDE}/tapegrad/tapegrad.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tapegrad COMPONENT development)

set(TAPEGRAD_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/tapegrad)
install(EXPORT tapegradTargets NAMESPACE tapegrad:: DESTINATION ${TAPEGRAD_CMAKE_DIR}
        FILE tapegrad-${TAPEGRAD_LINKAGE}-targets.cmake COMPONENT development)
configure_package_config_file(cmake/tapegradConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tapegradConfig.cmake INSTALL_DESTINATION ${TAPEGRAD_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tapegradConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tapegradConfig.cmake
              ${PROJECT_BINARY_DIR}/tapegradConfigVersion.cmake
        DESTINATION ${TAPEGRAD_CMAKE_DIR} COMPONENT development)

# ---- Debian packages: cpack -G DEB gives libtapegrad (the shared library) and
# libtapegrad-dev (headers, CMake package, the .so link or the static archive) ----
set(CPACK_PACKAGE_NAME tapegrad)
set(CPACK_PACKAGE_VENDOR "tapegrad developers")
set(CPACK_PACKAGE_CONTACT "tapegrad developers <tapegrad@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime development)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libtapegrad)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "libopenblas0, zlib1g, libgomp1, libstdc++6")
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME libtapegrad-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS
    "libtapegrad (= ${PROJECT_VERSION}), libxtensor-dev, libxsimd-dev, libopenblas-dev, zlib1g-dev")
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION "tapegrad shared library")
set(CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION "tapegrad headers and CMake package")
if(TAPEGRAD_NATIVE)
  message(STATUS "TAPEGRAD_NATIVE is on: packages built from this tree only run on CPUs "
                 "like this one; configure with -DTAPEGRAD_NATIVE=OFF to package")
endif()
include(CPack)
