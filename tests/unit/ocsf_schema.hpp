#pragma once

// Checks an OCSF event against the schema release vendored under
// tests/fixtures/ocsf-schema (its dictionary, category, class and object files, read as
// the OCSF schema server reads them: `extends` chains and `$include`d attribute files
// merged). Used on every OCSF alert the tests render.

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace portscand::test {

class ocsf_schema {
 public:
  // Loads the schema from `root` (throws std::runtime_error on a missing or broken file).
  explicit ocsf_schema(const std::string& root);

  // The schema at PORTSCAND_FIXTURES/ocsf-schema, loaded once.
  static const ocsf_schema& vendored();

  // Problems with `event` as an instance of the class named `class_name` ("detection_finding"),
  // one line each with the attribute's path; empty when it conforms: every attribute is one
  // the class (or object) defines, every required attribute is present, each value has its
  // dictionary type (scalar type, object, array), enum attributes hold an enum value,
  // class_uid/category_uid/type_uid agree with the class, and each observable's `name` is the
  // path of an attribute of this event whose value is the observable's `value`.
  std::vector<std::string> problems(const nlohmann::json& event,
                                    const std::string& class_name) const;

 private:
  struct attribute {
    std::string type;  // a scalar type (string_t...) or an object name
    bool is_array = false;
    bool required = false;
    std::string profile;         // from a profile: required only when the event declares it
    nlohmann::json enumeration;  // null when none
  };
  using attributes = std::map<std::string, attribute>;
  struct object_def {
    std::string name;
    attributes attrs;
  };

  attributes resolve(const std::string& dir, const nlohmann::json& def,
                     const std::map<std::string, nlohmann::json>& by_name) const;
  void check_object(const nlohmann::json& value, const attributes& attrs, const std::string& what,
                    const std::string& path, const std::set<std::string>& profiles,
                    std::vector<std::string>& out) const;
  void check_value(const nlohmann::json& value, const attribute& a, const std::string& path,
                   const std::set<std::string>& profiles, std::vector<std::string>& out) const;

  std::string root_;
  nlohmann::json dictionary_;  // "attributes" and "types"
  std::map<std::string, int> category_uid_;
  std::map<std::string, object_def> objects_;
  std::map<std::string, std::pair<int, attributes>> classes_;  // name -> (full class uid, attrs)
};

// The problems of `event` as a Detection Finding of the vendored release, one per line; ""
// when it conforms. For EXPECT_EQ(..., "") in the tests that render OCSF alerts.
std::string detection_finding_problems(const nlohmann::json& event);

}  // namespace portscand::test
