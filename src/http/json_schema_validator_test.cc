// JsonSchemaValidator: each keyword the contract uses accepts what it should and reports what it should
// not, with the JSON pointer of the offending value; unknown keywords are errors, not silently passed.
#include "http/json_schema_validator.h"

#include <gtest/gtest.h>

namespace tgpulse::http {
namespace {

using nlohmann::json;

class JsonSchemaValidatorTest : public ::testing::Test {
 protected:
  std::vector<std::string> errors(const json& value, const json& schema) { return validator_.validate(value, schema); }
  bool valid(const json& value, const json& schema) { return errors(value, schema).empty(); }

  json root_ = {{"components",
                 {{"schemas",
                   {{"Id", {{"type", "string"}, {"pattern", "^[a-z]+$"}}},
                    {"Loop", {{"$ref", "#/components/schemas/Loop"}}},
                    {"Thing", {{"type", "object"}, {"required", {"id"}}, {"properties", {{"id", {{"$ref", "#/components/schemas/Id"}}}}}}}}}}}};
  JsonSchemaValidator validator_{root_};
};

TEST_F(JsonSchemaValidatorTest, TypeByNameOrList) {
  EXPECT_TRUE(valid("x", {{"type", "string"}}));
  EXPECT_FALSE(valid(1, {{"type", "string"}}));
  EXPECT_TRUE(valid(nullptr, {{"type", {"string", "null"}}}));
  EXPECT_FALSE(valid(true, {{"type", {"string", "null"}}}));
  EXPECT_TRUE(valid(3, {{"type", "integer"}}));
  EXPECT_TRUE(valid(3.0, {{"type", "integer"}}));
  EXPECT_FALSE(valid(3.5, {{"type", "integer"}}));
  EXPECT_TRUE(valid(3.5, {{"type", "number"}}));
  EXPECT_TRUE(valid(json::array(), {{"type", "array"}}));
  EXPECT_FALSE(valid(json::object(), {{"type", "array"}}));
  EXPECT_TRUE(valid(false, {{"type", "boolean"}}));
}

TEST_F(JsonSchemaValidatorTest, EnumAndConst) {
  EXPECT_TRUE(valid("a", {{"enum", {"a", "b"}}}));
  EXPECT_FALSE(valid("c", {{"enum", {"a", "b"}}}));
  EXPECT_TRUE(valid("no-store", {{"const", "no-store"}}));
  EXPECT_FALSE(valid("public", {{"const", "no-store"}}));
}

TEST_F(JsonSchemaValidatorTest, RequiredPropertiesAndAdditionalProperties) {
  const json schema = {{"type", "object"},
                       {"required", {"a"}},
                       {"properties", {{"a", {{"type", "integer"}}}}},
                       {"additionalProperties", false}};
  EXPECT_TRUE(valid({{"a", 1}}, schema));
  const auto missing = errors(json::object(), schema);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_NE(missing[0].find("missing required property \"a\""), std::string::npos) << missing[0];
  const auto wrong = errors({{"a", "1"}}, schema);
  ASSERT_EQ(wrong.size(), 1u);
  EXPECT_EQ(wrong[0].rfind("/a: ", 0), 0u) << wrong[0];
  const auto extra = errors({{"a", 1}, {"b/c", 2}}, schema);
  ASSERT_EQ(extra.size(), 1u);
  EXPECT_EQ(extra[0].rfind("/b~1c: ", 0), 0u) << extra[0];
  EXPECT_TRUE(valid({{"a", "y"}, {"b", "x"}}, {{"additionalProperties", {{"type", "string"}}}}));
  EXPECT_FALSE(valid({{"b", 2}}, {{"additionalProperties", {{"type", "string"}}}}));
}

TEST_F(JsonSchemaValidatorTest, ItemsPointAtTheBadElement) {
  const auto e = errors(json::array({"a", 2, "c"}), {{"type", "array"}, {"items", {{"type", "string"}}}});
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].rfind("/1: ", 0), 0u) << e[0];
}

TEST_F(JsonSchemaValidatorTest, RefsResolveInTheRootDocument) {
  EXPECT_TRUE(valid({{"id", "abc"}}, {{"$ref", "#/components/schemas/Thing"}}));
  EXPECT_FALSE(valid({{"id", "ABC"}}, {{"$ref", "#/components/schemas/Thing"}}));
  EXPECT_FALSE(valid(json::object(), {{"$ref", "#/components/schemas/Thing"}}));
  const auto unresolved = errors(1, {{"$ref", "#/components/schemas/Nope"}});
  ASSERT_EQ(unresolved.size(), 1u);
  EXPECT_NE(unresolved[0].find("unresolved $ref"), std::string::npos);
  EXPECT_FALSE(valid(1, {{"$ref", "https://example.com/x.json"}}));
  EXPECT_FALSE(valid(1, {{"$ref", "#/components/schemas/Loop"}}));  // a cycle ends as an error
}

TEST_F(JsonSchemaValidatorTest, Combinators) {
  const json string_or_null = {{"oneOf", {{{"type", "string"}}, {{"type", "null"}}}}};
  EXPECT_TRUE(valid("x", string_or_null));
  EXPECT_TRUE(valid(nullptr, string_or_null));
  EXPECT_FALSE(valid(1, string_or_null));
  EXPECT_FALSE(valid(1, {{"oneOf", {{{"type", "integer"}}, {{"minimum", 0}}}}}));  // both match: not one
  EXPECT_TRUE(valid(1, {{"anyOf", {{{"type", "integer"}}, {{"minimum", 0}}}}}));
  EXPECT_FALSE(valid("x", {{"anyOf", {{{"type", "integer"}}, {{"type", "null"}}}}}));
  EXPECT_TRUE(valid({{"a", 1}, {"b", 2}}, {{"allOf", {{{"required", {"a"}}}, {{"required", {"b"}}}}}}));
  EXPECT_EQ(errors({{"a", 1}}, {{"allOf", {{{"required", {"a"}}}, {{"required", {"b"}}}}}}).size(), 1u);
}

TEST_F(JsonSchemaValidatorTest, StringAndNumberBounds) {
  const json ts = {{"pattern", "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$"}};
  EXPECT_TRUE(valid("2026-12-02T07:31:57.123Z", ts));
  EXPECT_FALSE(valid("2026-12-02T07:31:57Z", ts));
  EXPECT_TRUE(valid("ab", {{"minLength", 2}, {"maxLength", 2}}));
  EXPECT_FALSE(valid("a", {{"minLength", 2}}));
  EXPECT_FALSE(valid("abc", {{"maxLength", 2}}));
  EXPECT_TRUE(valid("\xc3\xa9\xc3\xa9", {{"maxLength", 2}}));  // two code points, four bytes
  EXPECT_TRUE(valid(0, {{"minimum", 0}}));
  EXPECT_FALSE(valid(-1, {{"minimum", 0}}));
  EXPECT_FALSE(valid(11, {{"maximum", 10}}));
  EXPECT_TRUE(valid("not a number", {{"minimum", 0}}));  // bounds apply to their own type only
}

TEST_F(JsonSchemaValidatorTest, AnnotationsAreIgnoredAndUnknownKeywordsReported) {
  EXPECT_TRUE(valid("x", {{"description", "d"}, {"examples", {"y"}}, {"format", "date-time"}, {"title", "t"}}));
  const auto e = errors("x", {{"multipleOf", 2}});
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("unsupported schema keyword \"multipleOf\""), std::string::npos);
  EXPECT_TRUE(valid("x", true));
  EXPECT_FALSE(valid("x", false));
}

}  // namespace
}  // namespace tgpulse::http
