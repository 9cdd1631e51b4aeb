# Every third-party dependency comes from a Debian 12 package (see scripts/packages.txt).
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED CONFIG COMPONENTS headers)
find_package(OpenSSL 3 REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(GTest REQUIRED)
# Riva client: protobuf through CMake's FindProtobuf module (Debian ships no protobuf CMake config); gRPC's own
# config, which needs protobuf-compiler-grpc installed (it checks every plugin file exists).
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
