# cmake -P script: writes OUTPUT, a C++ source defining `std::string_view FUNCTION() noexcept` in
# NAMESPACE that returns the bytes of INPUT (as a raw string literal, so the text stays readable).
# Usage: cmake -DINPUT=a.html -DOUTPUT=a.cc -DNAMESPACE=ns -DFUNCTION=fn -DHEADER=x/y.h -P embed_asset.cmake
file(READ "${INPUT}" content)
set(delimiter "tgpulse_asset")
string(FIND "${content}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )${delimiter}\"")
endif()
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by embed_asset.cmake; do not edit.\n"
  "#include \"${HEADER}\"\n\n"
  "namespace ${NAMESPACE} {\n\n"
  "std::string_view ${FUNCTION}() noexcept {\n"
  "  static constexpr std::string_view kContent = R\"${delimiter}(${content})${delimiter}\";\n"
  "  return kContent;\n"
  "}\n\n"
  "}  // namespace ${NAMESPACE}\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
