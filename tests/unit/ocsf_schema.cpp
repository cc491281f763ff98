#include "ocsf_schema.hpp"

#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

namespace portscand::test {
namespace {

using json = nlohmann::json;

json load_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

// Attribute definitions of a class or object file, its `$include`d files merged in (a later
// definition of a key updates the earlier one, as the schema server does).
// Attributes from a profile's file ("profiles/host.json") carry "$profile": they belong to
// the class, but their requirements apply only to events that declare the profile in
// metadata.profiles.
void merge_attributes(const std::string& root, const json& attrs, json& into,
                      const std::string& profile = "") {
  if (!attrs.is_object()) return;
  if (const auto inc = attrs.find("$include"); inc != attrs.end()) {
    const json list = inc->is_array() ? *inc : json::array({*inc});
    for (const auto& file : list) {
      const std::string path = file.get<std::string>();
      const json included = load_json(root + "/" + path);
      std::string from = profile;
      if (path.rfind("profiles/", 0) == 0) from = included.at("name").get<std::string>();
      merge_attributes(root, included.at("attributes"), into, from);
    }
  }
  for (const auto& [key, def] : attrs.items()) {
    if (key == "$include") continue;
    if (!into.contains(key)) into[key] = json::object();
    into[key].update(def);
    if (!profile.empty()) into[key]["$profile"] = profile;
  }
}

// The merged attribute definitions of `name` in `defs` (by name), its `extends` chain first.
json chain(const std::string& root, const std::string& name,
           const std::map<std::string, json>& defs) {
  const auto it = defs.find(name);
  if (it == defs.end()) throw std::runtime_error("the schema has no definition of '" + name + "'");
  json out = json::object();
  if (const auto ext = it->second.find("extends"); ext != it->second.end())
    out = chain(root, ext->get<std::string>(), defs);
  merge_attributes(root, it->second.at("attributes"), out);
  return out;
}

// "evidences[0].src_endpoint.ip" -> the value at that path, or nullptr.
const json* at_path(const json& doc, const std::string& path) {
  const json* cur = &doc;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    const std::size_t dot = path.find('.', pos);
    std::string seg = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    long index = -1;
    if (const auto open = seg.find('['); open != std::string::npos && seg.back() == ']') {
      const std::string digits = seg.substr(open + 1, seg.size() - open - 2);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos)
        return nullptr;
      index = std::stol(digits);
      seg.resize(open);
    }
    if (!cur->is_object() || !cur->contains(seg)) return nullptr;
    cur = &(*cur)[seg];
    if (index >= 0) {
      if (!cur->is_array() || static_cast<std::size_t>(index) >= cur->size()) return nullptr;
      cur = &(*cur)[static_cast<std::size_t>(index)];
    }
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  return cur;
}

}  // namespace

ocsf_schema::ocsf_schema(const std::string& root) : root_(root) {
  dictionary_ = load_json(root + "/dictionary.json");
  const json categories = load_json(root + "/categories.json");
  for (const auto& [name, def] : categories.at("attributes").items())
    category_uid_[name] = def.at("uid").get<int>();
  std::map<std::string, json> objects, classes;
  for (const auto& e : std::filesystem::directory_iterator(root + "/objects")) {
    json def = load_json(e.path().string());
    const std::string name = def.at("name").get<std::string>();
    objects[name] = std::move(def);
  }
  for (const auto& e : std::filesystem::recursive_directory_iterator(root + "/events")) {
    if (!e.is_regular_file()) continue;
    json def = load_json(e.path().string());
    const std::string name = def.at("name").get<std::string>();
    classes[name] = std::move(def);
  }
  const auto to_attributes = [this](const json& merged) {
    attributes out;
    for (const auto& [key, over] : merged.items()) {
      const json& dict =
          dictionary_["attributes"].contains(key) ? dictionary_["attributes"][key] : json::object();
      attribute a;
      a.type = over.value("type", dict.value("type", std::string()));
      a.is_array = over.value("is_array", dict.value("is_array", false));
      a.required = over.value("requirement", std::string()) == "required";
      a.profile = over.value("$profile", std::string());
      if (over.contains("enum"))
        a.enumeration = over["enum"];
      else if (dict.contains("enum"))
        a.enumeration = dict["enum"];
      out[key] = std::move(a);
    }
    return out;
  };
  for (const auto& [name, def] : objects)
    objects_[name] = {name, to_attributes(chain(root, name, objects))};
  // observable.type_id: the schema server builds its enum from the "observable" numbers of
  // the dictionary's types, attributes and objects, beyond the two listed in the file.
  if (auto o = objects_.find("observable"); o != objects_.end()) {
    json& e = o->second.attrs["type_id"].enumeration;
    const auto add = [&e](const json& def) {
      if (def.contains("observable")) e[std::to_string(def["observable"].get<int>())] = true;
    };
    for (const auto& [n, def] : dictionary_.at("types").at("attributes").items()) add(def);
    for (const auto& [n, def] : dictionary_.at("attributes").items()) add(def);
    for (const auto& [n, def] : objects) add(def);
  }
  for (const auto& [name, def] : classes) {
    int uid = def.value("uid", 0);
    // base_event's category is "other", which categories.json does not list: uid 0.
    if (const auto c = category_uid_.find(def.value("category", std::string()));
        c != category_uid_.end())
      uid += 1000 * c->second;
    classes_[name] = {uid, to_attributes(chain(root, name, classes))};
  }
}

const ocsf_schema& ocsf_schema::vendored() {
  static const ocsf_schema schema(std::string(PORTSCAND_FIXTURES) + "/ocsf-schema");
  return schema;
}

std::vector<std::string> ocsf_schema::problems(const json& event,
                                               const std::string& class_name) const {
  std::vector<std::string> out;
  const auto cls = classes_.find(class_name);
  if (cls == classes_.end()) return {"no class '" + class_name + "' in the schema"};
  std::set<std::string> profiles;
  if (event.contains("metadata") && event["metadata"].contains("profiles") &&
      event["metadata"]["profiles"].is_array())
    for (const auto& p : event["metadata"]["profiles"])
      if (p.is_string()) profiles.insert(p.get<std::string>());
  // The uids' enums are per class (checked below), not the dictionary's placeholders.
  attributes top = cls->second.second;
  for (const char* uid : {"class_uid", "category_uid", "type_uid"}) top[uid].enumeration = nullptr;
  check_object(event, top, class_name, "", profiles, out);
  const int class_uid = cls->second.first;
  if (event.value("class_uid", -1) != class_uid)
    out.push_back("class_uid: " + event.value("class_uid", json()).dump() + ", the class is " +
                  std::to_string(class_uid));
  if (event.value("category_uid", -1) != class_uid / 1000)
    out.push_back("category_uid: does not match class_uid " + std::to_string(class_uid));
  if (event.value("type_uid", -1) != class_uid * 100 + event.value("activity_id", 0))
    out.push_back("type_uid: must be class_uid * 100 + activity_id");
  if (const auto obs = event.find("observables"); obs != event.end() && obs->is_array()) {
    for (std::size_t i = 0; i < obs->size(); ++i) {
      const json& o = (*obs)[i];
      const std::string name = o.value("name", std::string());
      const json* target = at_path(event, name);
      const std::string path = "observables[" + std::to_string(i) + "].name";
      if (target == nullptr) {
        out.push_back(path + ": '" + name + "' is no attribute of this event");
      } else if (o.contains("value") &&
                 !(target->is_string() ? *target == o["value"] : target->dump() == o["value"])) {
        out.push_back(path + ": '" + name + "' holds " + target->dump() + ", the value says " +
                      o["value"].dump());
      }
    }
  }
  return out;
}

void ocsf_schema::check_object(const json& value, const attributes& attrs, const std::string& what,
                               const std::string& path, const std::set<std::string>& profiles,
                               std::vector<std::string>& out) const {
  const std::string prefix = path.empty() ? "" : path + ".";
  if (!value.is_object()) {
    out.push_back((path.empty() ? "(event)" : path) + ": must be an object (" + what + ")");
    return;
  }
  for (const auto& [key, v] : value.items()) {
    const auto a = attrs.find(key);
    if (a == attrs.end()) {
      out.push_back(prefix + key + ": not an attribute of " + what);
      continue;
    }
    check_value(v, a->second, prefix + key, profiles, out);
  }
  for (const auto& [key, a] : attrs)
    if (a.required && (a.profile.empty() || profiles.count(a.profile) > 0) && !value.contains(key))
      out.push_back(prefix + key + ": required by " + what + ", missing");
}

void ocsf_schema::check_value(const json& value, const attribute& a, const std::string& path,
                              const std::set<std::string>& profiles,
                              std::vector<std::string>& out) const {
  if (a.is_array) {
    if (!value.is_array()) {
      out.push_back(path + ": must be an array");
      return;
    }
    attribute element = a;
    element.is_array = false;
    for (std::size_t i = 0; i < value.size(); ++i)
      check_value(value[i], element, path + "[" + std::to_string(i) + "]", profiles, out);
    return;
  }
  if (a.type.size() > 2 && a.type.compare(a.type.size() - 2, 2, "_t") == 0) {
    std::string base = a.type;
    const json& types = dictionary_.at("types").at("attributes");
    if (types.contains(base) && types.at(base).contains("type")) base = types.at(base).at("type");
    bool ok = true;
    if (base == "string_t")
      ok = value.is_string();
    else if (base == "integer_t" || base == "long_t" || base == "timestamp_t")
      ok = value.is_number_integer();
    else if (base == "float_t")
      ok = value.is_number();
    else if (base == "boolean_t")
      ok = value.is_boolean();
    else if (base != "json_t")
      ok = false;
    if (!ok) {
      out.push_back(path + ": " + value.dump() + " is not of type " + a.type);
      return;
    }
    if (!a.enumeration.is_null()) {
      const std::string key = value.is_string() ? value.get<std::string>() : value.dump();
      if (!a.enumeration.contains(key))
        out.push_back(path + ": " + value.dump() + " is not one of the attribute's enum values");
    }
    return;
  }
  if (a.type == "object") {
    if (!value.is_object()) out.push_back(path + ": must be an object");
    return;
  }
  const auto obj = objects_.find(a.type);
  if (obj == objects_.end()) {
    out.push_back(path + ": type '" + a.type + "' is not in the vendored schema");
    return;
  }
  check_object(value, obj->second.attrs, a.type, path, profiles, out);
}

std::string detection_finding_problems(const json& event) {
  std::string out;
  for (const auto& p : ocsf_schema::vendored().problems(event, "detection_finding"))
    out += p + "\n";
  return out;
}

}  // namespace portscand::test
