# cmake -P script: writes OUTPUT, a C++ source defining `std::string_view FUNCTION() noexcept` in
# NAMESPACE that returns the bytes of INPUT (as raw string literals, so the text stays readable).
# The text is cut at line ends into literals of at most 32 KiB each and joined once, on first use:
# compilers need not support a longer literal (clang's -Woverlength-strings says so past 65,536).
# Usage: cmake -DINPUT=a.html -DOUTPUT=a.cc -DNAMESPACE=ns -DFUNCTION=fn -DHEADER=x/y.h -P embed_asset.cmake
file(READ "${INPUT}" content)
set(delimiter "tgpulse_asset")
string(FIND "${content}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )${delimiter}\"")
endif()
set(limit 32768)
set(parts "")
set(rest "${content}")
string(LENGTH "${rest}" rest_length)
while(rest_length GREATER limit)
  string(SUBSTRING "${rest}" 0 ${limit} head)
  string(FIND "${head}" "\n" cut REVERSE)
  if(cut EQUAL -1)
    message(FATAL_ERROR "${INPUT} has a line longer than ${limit} bytes")
  endif()
  math(EXPR cut "${cut} + 1")
  string(SUBSTRING "${rest}" 0 ${cut} chunk)
  string(SUBSTRING "${rest}" ${cut} -1 rest)
  string(APPEND parts "      R\"${delimiter}(${chunk})${delimiter}\",\n")
  string(LENGTH "${rest}" rest_length)
endwhile()
string(APPEND parts "      R\"${delimiter}(${rest})${delimiter}\",\n")
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by embed_asset.cmake; do not edit.\n"
  "#include \"${HEADER}\"\n\n"
  "#include <string>\n\n"
  "namespace ${NAMESPACE} {\n\n"
  "std::string_view ${FUNCTION}() noexcept {\n"
  "  static constexpr std::string_view kParts[] = {\n"
  "${parts}"
  "  };\n"
  "  static const std::string kContent = [] {\n"
  "    std::string joined;\n"
  "    for (std::string_view part : kParts) joined.append(part);\n"
  "    return joined;\n"
  "  }();\n"
  "  return kContent;\n"
  "}\n\n"
  "}  // namespace ${NAMESPACE}\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
