// JsonSchemaValidator: checks a JSON value against a JSON Schema (2020-12) — the subset docs/openapi.json
// uses: $ref (local "#/..." pointers into the root document), type (a name or a list), enum, const,
// required, properties, additionalProperties (bool or schema), items, allOf, anyOf, oneOf, pattern
// (ECMAScript), minLength/maxLength (in code points), minimum/maximum. Annotations (description, examples,
// format, title, default, deprecated, readOnly, writeOnly) are ignored. Any other keyword is reported as
// an error, so a document that starts to use one fails its tests instead of being checked less than it
// says.
//
// Test support (tgpulse_http_testing): the route tests validate every answer against the contract.
//
// Thread-safety: validate() is const and may run from several threads; the root document must outlive
// the validator.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tgpulse::http {

class JsonSchemaValidator {
 public:
  // `root` resolves "$ref": "#/components/schemas/X" pointers.
  explicit JsonSchemaValidator(const nlohmann::json& root) : root_(root) {}

  // Every violation of `schema` by `value`, each as "<JSON pointer of the value>: <what is wrong>";
  // empty when the value conforms.
  std::vector<std::string> validate(const nlohmann::json& value, const nlohmann::json& schema) const;

 private:
  void check(const nlohmann::json& value, const nlohmann::json& schema, const std::string& at, int depth,
             std::vector<std::string>* errors) const;

  const nlohmann::json& root_;
};

}  // namespace tgpulse::http
