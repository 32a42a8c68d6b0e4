# Finds facefill's dependencies: Debian packages via find_package/pkg-config, ONNX Runtime from the folder that
# scripts/setup.sh fills (.deps/onnxruntime), as an imported target.
find_package(PkgConfig REQUIRED)
find_package(OpenCV 4 REQUIRED COMPONENTS core imgproc imgcodecs)
find_package(Threads REQUIRED)
find_package(GTest REQUIRED)
find_package(benchmark REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(spdlog REQUIRED)
# ONNX's protobuf types and shape inference (Debian's libonnx-dev, ONNX 1.12): `models batchify` rewrites graphs
# with them. Its imported target carries the ONNX_ML / ONNX_NAMESPACE defines Debian's build used.
find_package(Protobuf REQUIRED)
find_package(ONNX REQUIRED)
pkg_check_modules(HEIF REQUIRED IMPORTED_TARGET libheif)
pkg_check_modules(TURBOJPEG REQUIRED IMPORTED_TARGET libturbojpeg)
# libjpeg-turbo's libjpeg API: scanline crop and skip (region decode; `serve` decodes a photo only as far down as
# its face crops need).
pkg_check_modules(JPEG REQUIRED IMPORTED_TARGET libjpeg)
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(UUID REQUIRED IMPORTED_TARGET uuid)
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
# cpp-httplib (Debian's libcpp-httplib-dev, a compiled library and its header): `facefill serve` and the tests'
# loopback Qdrant.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)

set(FACEFILL_DEPS_DIR "${PROJECT_SOURCE_DIR}/.deps" CACHE PATH "Folder that scripts/setup.sh fills")
set(ONNXRUNTIME_ROOT "${FACEFILL_DEPS_DIR}/onnxruntime" CACHE PATH "ONNX Runtime include/ and lib/")
if(NOT EXISTS "${ONNXRUNTIME_ROOT}/lib/libonnxruntime.so.1")
  message(FATAL_ERROR "ONNX Runtime not found in ${ONNXRUNTIME_ROOT}: run scripts/setup.sh first")
endif()
add_library(onnxruntime::onnxruntime SHARED IMPORTED)
set_target_properties(onnxruntime::onnxruntime PROPERTIES
  IMPORTED_LOCATION "${ONNXRUNTIME_ROOT}/lib/libonnxruntime.so.1"
  IMPORTED_SONAME "libonnxruntime.so.1"
  INTERFACE_INCLUDE_DIRECTORIES "${ONNXRUNTIME_ROOT}/include")
# ONNX Runtime's GPU build (scripts/setup.sh --gpu) is a superset of the CPU build with the same C API: binaries look
# for it first, so installing it (before or after building) is all a GPU host needs. Sanitizer builds turn it off.
set(ONNXRUNTIME_GPU_ROOT "${FACEFILL_DEPS_DIR}/onnxruntime-gpu" CACHE PATH "ONNX Runtime GPU build's lib/")
option(FACEFILL_GPU_RUNTIME "Load ONNX Runtime's GPU build in preference when it is installed" ON)
if(FACEFILL_GPU_RUNTIME)
  set(CMAKE_INSTALL_RPATH "${ONNXRUNTIME_GPU_ROOT}/lib;${ONNXRUNTIME_ROOT}/lib")
else()
  set(CMAKE_INSTALL_RPATH "${ONNXRUNTIME_ROOT}/lib")
endif()
# Built and installed binaries carry the same RUNPATH: CMake otherwise pads the build tree's with ':' to make room
# for the install one, and an empty entry makes the loader search the current directory first of all.
set(CMAKE_BUILD_WITH_INSTALL_RPATH ON)

set(FACEFILL_DEFAULT_MODELS_DIR "${FACEFILL_DEPS_DIR}/models/faceplugin" CACHE PATH
    "Default model pack (fetched by scripts/setup.sh)")

# hnswlib (header only, Debian's libhnswlib-dev): the face index.
find_path(HNSWLIB_INCLUDE_DIR hnswlib/hnswlib.h REQUIRED)
