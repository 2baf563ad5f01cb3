#include "app/config_loader.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>

#include "app/config_schema.h"

namespace tgpulse::app {

namespace {

// Keys that once existed: an old configuration that still sets one gets this explanation instead of a
// bare "unknown key" (and its environment variable is refused rather than silently ignored).
struct RemovedKey {
  const char* path;
  const char* env;
  const char* why;
};
constexpr RemovedKey kRemovedKeys[] = {
    {"qr.token_ttl", "TGPULSE_QR_TOKEN_TTL",
     "was removed: a QR link's lifetime is decided by Telegram (about 30 s; TDLib shows the next link "
     "itself), so no setting can change it; with the simulator it is the tdsim profile's "
     "qr_token_ttl_seconds. Delete the key; qr.timeout bounds the whole login"},
};

const RemovedKey* removed_key(std::string_view path) {
  for (const RemovedKey& r : kRemovedKeys) {
    if (path == r.path) return &r;
  }
  return nullptr;
}

class Loader {
 public:
  explicit Loader(Config& config) : config_(config) {}

  void apply(const std::string& path, const std::string& value, const std::string& origin) {
    std::vector<std::string> wild;
    const ConfigKey* key = ConfigSchema::instance().find(path, &wild);
    if (key == nullptr) {
      unknown(path, origin);
      return;
    }
    const std::string problem = key->apply(config_, value, wild);
    if (problem.empty()) return;
    if (key->secret) {
      errors_.push_back(fmt::format("config: {}: {} [{}]", path, problem, origin));
    } else {
      errors_.push_back(fmt::format("config: {}: \"{}\" {} [{}]", path, printable(value), problem, origin));
    }
  }

  void walk(const YAML::Node& node, const std::string& prefix, const std::string& origin) {
    for (const auto& item : node) {
      std::string name;
      try {
        name = item.first.as<std::string>();
      } catch (const YAML::Exception&) {
        errors_.push_back(fmt::format("config: {}: a key that is not a name [{}]", prefix.empty() ? "(top)" : prefix,
                                      origin));
        continue;
      }
      const std::string path = prefix.empty() ? name : prefix + "." + name;
      const YAML::Node& value = item.second;
      if (value.IsMap()) {
        if (ConfigSchema::instance().is_section(path)) {
          walk(value, path, origin);
        } else {
          unknown(path, origin);
        }
      } else if (value.IsSequence()) {
        if (ConfigSchema::instance().find(path, nullptr) == nullptr && !ConfigSchema::instance().is_section(path)) {
          unknown(path, origin);
        } else {
          errors_.push_back(fmt::format("config: {}: must be a single value, not a list [{}]", path, origin));
        }
      } else if (ConfigSchema::instance().is_section(path) && ConfigSchema::instance().find(path, nullptr) == nullptr) {
        if (!value.IsNull()) {
          errors_.push_back(fmt::format("config: {}: is a section; expected keys under it ({}) [{}]", path,
                                        hint(path), origin));
        }
      } else {
        apply(path, value.IsNull() ? std::string() : value.Scalar(), origin);
      }
    }
  }

  std::vector<std::string>& errors() { return errors_; }

 private:
  static std::string printable(const std::string& v) {
    std::string out;
    for (char c : v.substr(0, 200)) out += (static_cast<unsigned char>(c) < 0x20 || c == '"') ? '?' : c;
    if (v.size() > 200) out += "...";
    return out;
  }

  static std::string hint(const std::string& path) {
    const auto dot = path.rfind('.');
    const std::string section = dot == std::string::npos ? std::string() : path.substr(0, dot);
    std::vector<std::string> names;
    for (const auto& k : ConfigSchema::instance().keys_under(section)) {
      std::string rest = section.empty() ? k : k.substr(section.size() + 1);
      rest = rest.substr(0, rest.find('.'));
      if (std::find(names.begin(), names.end(), rest) == names.end()) names.push_back(rest);
    }
    return fmt::format("{}", fmt::join(names, ", "));
  }

  void unknown(const std::string& path, const std::string& origin) {
    if (const RemovedKey* r = removed_key(path)) {
      errors_.push_back(fmt::format("config: {}: {} [{}]", path, r->why, origin));
      return;
    }
    const auto dot = path.rfind('.');
    const std::string section = dot == std::string::npos ? std::string("the top level") : path.substr(0, dot);
    errors_.push_back(fmt::format("config: unknown key \"{}\" [{}] (known under {}: {})", path, origin, section,
                                  hint(path)));
  }

  Config& config_;
  std::vector<std::string> errors_;
};

}  // namespace

std::optional<std::string> process_env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

Result<Config> load_config(const ConfigSources& sources) {
  Config config;
  Loader loader(config);

  if (!sources.file.empty()) {
    const std::string origin = "from " + sources.file;
    YAML::Node root;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(sources.file, ec)) {
      loader.errors().push_back(fmt::format("config: cannot read \"{}\": no such file", sources.file));
    } else {
      try {
        root = YAML::LoadFile(sources.file);
      } catch (const YAML::ParserException& e) {
        loader.errors().push_back(fmt::format("config: {}: line {}, column {}: {}", sources.file, e.mark.line + 1,
                                              e.mark.column + 1, e.msg));
      } catch (const YAML::Exception& e) {
        loader.errors().push_back(fmt::format("config: cannot read \"{}\": {}", sources.file, e.msg));
      }
      if (root && !root.IsNull()) {
        if (root.IsMap()) {
          loader.walk(root, "", origin);
        } else {
          loader.errors().push_back(
              fmt::format("config: {}: the top level must be a mapping of sections (server:, log:, ...)", sources.file));
        }
      }
    }
  }

  auto env = sources.env ? sources.env : process_env;
  for (const RemovedKey& r : kRemovedKeys) {
    if (env(r.env)) loader.errors().push_back(fmt::format("config: {}: {} [from {}]", r.path, r.why, r.env));
  }
  for (const auto& key : ConfigSchema::instance().keys()) {
    if (key.env.empty()) continue;
    if (auto v = env(key.env)) loader.apply(key.path, *v, "from " + key.env);
  }

  for (const auto& [path, value] : sources.flags) {
    const ConfigKey* key = ConfigSchema::instance().find(path, nullptr);
    loader.apply(path, value, "from " + (key != nullptr && !key->flag.empty() ? key->flag : "--" + path));
  }

  if (!config.td.library_explicit) {
    const std::string dir = sources.binary_dir.empty() ? std::string(".") : sources.binary_dir;
    config.td.library = (std::filesystem::path(dir) / "libtdsim.so").string();
  }

  auto& errors = loader.errors();
  if (errors.empty()) {
    if (auto problem = read_master_key_file(config); !problem.empty()) errors.push_back(problem);
    if (auto problem = read_store_password_file(config); !problem.empty()) errors.push_back(problem);
    if (auto problem = read_quota_password_file(config); !problem.empty()) errors.push_back(problem);
  }
  if (errors.empty()) {
    auto more = validate_config(config);
    errors.insert(errors.end(), more.begin(), more.end());
  }
  if (!errors.empty()) return Error(Errc::invalid_argument, fmt::format("{}", fmt::join(errors, "\n")));
  return config;
}

}  // namespace tgpulse::app
