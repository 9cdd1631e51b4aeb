#include "stream/config.hpp"

#include "stream/pipeline_spec.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cctype>
#include <charconv>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string_view>
#include <tuple>

namespace stream {
namespace {

/// A flag of the Unity player, spelled exactly (and case-sensitively) as the player reads it.
struct unity_flag {
  std::string_view name;
  bool takes_value;
};

// Render Streaming's flags, the player's -logFile and -screen-width/-height (ours too), then engine flags that
// only steer Unity's renderer and are accepted so a player command line runs unchanged.
constexpr std::array<unity_flag, 20> unity_flags{{
    {"signalingUrl", true},      {"signalingType", true},       {"iceServerUrl", true},
    {"iceServerUsername", true}, {"iceServerCredential", true}, {"iceServerCredentialType", true},
    {"pollingInterval", true},   {"importJson", true},          {"logFile", true},
    {"screen-width", true},      {"screen-height", true},       {"screen-fullscreen", true},
    {"monitor", true},           {"batchmode", false},          {"nographics", false},
    {"force-vulkan", false},     {"force-glcore", false},       {"force-opengl", false},
    {"force-gles", false},       {"popupwindow", false},
}};

const unity_flag* find_unity_flag(std::string_view name) {
  const auto* it = std::find_if(unity_flags.begin(), unity_flags.end(), [&](const auto& f) { return f.name == name; });
  return it == unity_flags.end() ? nullptr : &*it;
}

// CLI11 reads "-abc" as three short flags, so Unity's single-dash words become "--word=value" before it sees them.
// Joining the value keeps values that start with a dash ("-logFile -" for stdout) from looking like flags.
std::vector<std::string> with_long_unity_flags(int argc, const char* const* argv) {
  std::vector<std::string> out;
  bool verbatim = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (verbatim || arg.size() < 3 || arg[0] != '-' || arg[1] == '-') {
      verbatim = verbatim || arg == "--";
      out.emplace_back(arg);
      continue;
    }
    const auto eq = arg.find('=');
    const auto* flag = find_unity_flag(arg.substr(1, eq == std::string_view::npos ? arg.npos : eq - 1));
    if (!flag) {
      out.emplace_back(arg);
      continue;
    }
    if (!flag->takes_value || eq != std::string_view::npos || i + 1 >= argc) {
      out.push_back("-" + std::string(arg));
      continue;
    }
    const std::string_view value = argv[i + 1];
    // Unity's -logFile without a path (the next word is another flag) means its default log; ours is stderr.
    if (flag->name == "logFile" && value.size() > 1 && value[0] == '-') continue;
    out.push_back("-" + std::string(arg) + "=" + std::string(value));
    ++i;
  }
  return out;
}

/// Help shows Unity's flags with the single dash users type.
class unity_formatter : public CLI::Formatter {
 public:
  std::string make_option_name(const CLI::Option* opt, bool is_positional) const override {
    std::string names = CLI::Formatter::make_option_name(opt, is_positional);
    for (const auto& f : unity_flags) {
      const std::string long_form = "--" + std::string(f.name);
      for (auto pos = names.find(long_form); pos != std::string::npos; pos = names.find(long_form, pos + 1)) {
        const auto end = pos + long_form.size();
        const bool at_start = pos == 0 || names[pos - 1] == ',';
        if (at_start && (end == names.size() || names[end] == ',')) names.erase(pos, 1);
      }
    }
    return names;
  }
};

// SPARC_STREAM_ + the long name in upper snake case (signalingUrl -> SIGNALING_URL, mas-url -> MAS_URL).
std::string env_name(std::string_view long_name) {
  std::string out = "SPARC_STREAM_";
  for (const char ch : long_name) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isupper(c)) out.push_back('_');
    out.push_back(ch == '-' ? '_' : static_cast<char>(std::toupper(c)));
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trimmed(std::string s) {
  const auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  s.erase(std::find_if_not(s.rbegin(), s.rend(), space).base(), s.end());
  s.erase(s.begin(), std::find_if_not(s.begin(), s.end(), space));
  return s;
}

std::string read_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + std::string(what) + " " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "scheme://host..." -> lower-case scheme; std::nullopt when there is no scheme or no host.
std::optional<std::string> url_scheme(std::string_view url) {
  const auto sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) return std::nullopt;
  const auto host = url.substr(sep + 3);
  if (host.empty() || host[0] == '/' || host[0] == ':' || host[0] == '?') return std::nullopt;
  return lower(url.substr(0, sep));
}

// Unity's credential types, case-insensitively (its enum names are Password and OAuth).
std::string credential_type(std::string_view text, std::string_view where) {
  auto t = lower(text);
  if (t == "password" || t == "oauth") return t;
  throw std::runtime_error(std::string(where) + " must be password or oauth, not '" + std::string(text) + "'");
}

// The -importJson file, in Unity's CommandLineInfo shape; what it sets, before flags and environment overrule it.
struct imported {
  std::optional<std::string> signaling_type;
  std::optional<std::string> signaling_url;
  std::optional<int> polling_interval_ms;
  std::vector<ice_server> ice_servers;
};

imported read_import_json(const std::string& path, std::vector<std::string>& warnings) {
  const std::string text = read_file(path, "-importJson file");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error("-importJson " + path + ": not valid JSON: " + e.what());
  }
  if (!doc.is_object()) throw std::runtime_error("-importJson " + path + ": the top level must be an object");
  const auto fail = [&](const std::string& key, std::string_view must) {
    throw std::runtime_error("-importJson " + path + ": '" + key + "' must be " + std::string(must));
  };
  const auto string_of = [&](const nlohmann::json& v, const std::string& key) -> std::string {
    if (!v.is_string()) fail(key, "a string");
    return v.get<std::string>();
  };
  imported out;
  for (const auto& [key, value] : doc.items()) {
    if (value.is_null()) continue;
    if (key == "signalingType") {
      if (auto s = string_of(value, key); !s.empty()) out.signaling_type = s;
    } else if (key == "signalingUrl") {
      if (auto s = string_of(value, key); !s.empty()) out.signaling_url = s;
    } else if (key == "pollingInterval") {
      if (!value.is_number_integer()) fail(key, "an integer (milliseconds)");
      // Unity's JsonUtility reads a missing int as 0, so 0 means "not set" there and here.
      if (const auto ms = value.get<long long>(); ms != 0) {
        if (ms < 100 || ms > 600000) fail(key, "between 100 and 600000 milliseconds");
        out.polling_interval_ms = static_cast<int>(ms);
      }
    } else if (key == "iceServers") {
      if (!value.is_array()) fail(key, "a list of {urls, username, credential, credentialType}");
      for (std::size_t i = 0; i < value.size(); ++i) {
        const auto& entry = value[i];
        const std::string at = "iceServers[" + std::to_string(i) + "]";
        if (!entry.is_object()) fail(at, "an object {urls, username, credential, credentialType}");
        ice_server server;
        for (const auto& [field, v] : entry.items()) {
          const std::string name = at + "." + field;
          if (v.is_null()) continue;
          if (field == "urls") {
            if (v.is_string()) {
              server.urls.push_back(v.get<std::string>());
            } else if (v.is_array()) {
              for (const auto& u : v) server.urls.push_back(string_of(u, name));
            } else {
              fail(name, "a string or a list of strings");
            }
          } else if (field == "username") {
            server.username = string_of(v, name);
          } else if (field == "credential") {
            server.credential = string_of(v, name);
          } else if (field == "credentialType") {
            // Unity's JsonUtility writes the enum as its number: Password = 0, OAuth = 1.
            if (v.is_number_integer()) {
              const auto n = v.get<long long>();
              if (n != 0 && n != 1) fail(name, "password or oauth (or Unity's 0 or 1)");
              server.credential_type = n == 0 ? "password" : "oauth";
            } else {
              server.credential_type = credential_type(string_of(v, name), "-importJson " + path + ": '" + name + "'");
            }
          } else {
            warnings.push_back("-importJson " + path + ": ignoring unknown key '" + name + "'");
          }
        }
        out.ice_servers.push_back(std::move(server));
      }
    } else {
      warnings.push_back("-importJson " + path + ": ignoring unknown key '" + key + "'");
    }
  }
  return out;
}

std::pair<std::uint16_t, std::uint16_t> parse_port_range(const std::string& text) {
  const auto number = [&](std::string_view s) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc{} || end != s.data() + s.size() || value < 1 || value > 65535)
      throw std::runtime_error("--ice-ports '" + text + "' must be MIN-MAX with ports 1-65535");
    return static_cast<std::uint16_t>(value);
  };
  const auto dash = text.find('-');
  const std::string_view all = text;
  const auto min = number(all.substr(0, dash));
  const auto max = dash == std::string::npos ? min : number(all.substr(dash + 1));
  if (min > max) throw std::runtime_error("--ice-ports '" + text + "': the first port is above the last");
  return {min, max};
}

bool is_ip_literal(const std::string& address) {
  std::array<unsigned char, 16> buf{};
  return inet_pton(AF_INET, address.c_str(), buf.data()) == 1 || inet_pton(AF_INET6, address.c_str(), buf.data()) == 1;
}

void check_range(std::string_view flag, int value, int min, int max) {
  if (value < min || value > max)
    throw std::runtime_error(std::string(flag) + " " + std::to_string(value) + " is outside " + std::to_string(min) +
                             ".." + std::to_string(max));
}

void validate(config& c) {
  const auto scheme = url_scheme(c.signaling_url);
  if (!scheme || (*scheme != "ws" && *scheme != "wss" && *scheme != "http" && *scheme != "https"))
    throw std::runtime_error("-signalingUrl '" + c.signaling_url +
                             "' must be a ws://, wss://, http:// or https:// URL");
  const std::string from_scheme = (*scheme == "ws" || *scheme == "wss") ? "websocket" : "http";
  if (c.signaling_type.empty()) {
    c.signaling_type = from_scheme;
  } else {
    c.signaling_type = lower(c.signaling_type);
    if (c.signaling_type != "websocket" && c.signaling_type != "http")
      throw std::runtime_error("-signalingType must be websocket or http, not '" + c.signaling_type + "'");
    if (c.signaling_type != from_scheme)
      throw std::runtime_error("-signalingType " + c.signaling_type + " does not match -signalingUrl " +
                               c.signaling_url + " (" + (from_scheme == "http" ? "http/https" : "ws/wss") + " is " +
                               from_scheme + ")");
  }
  check_range("-pollingInterval", c.polling_interval_ms, 100, 600000);
  for (std::size_t i = 0; i < c.ice_servers.size(); ++i) {
    const auto& s = c.ice_servers[i];
    const auto which = "ICE server " + std::to_string(i + 1);
    if (s.urls.empty())
      throw std::runtime_error(which + " has no URL (give -iceServerUrl, or urls in the -importJson file)");
    for (const auto& url : s.urls) {
      const auto colon = url.find(':');
      const auto kind = lower(std::string_view(url).substr(0, colon));
      if (colon == std::string::npos || colon + 1 == url.size() ||
          (kind != "stun" && kind != "stuns" && kind != "turn" && kind != "turns"))
        throw std::runtime_error(which + ": '" + url + "' must be a stun:, stuns:, turn: or turns: URL");
      if ((kind == "turn" || kind == "turns") && (s.username.empty() || s.credential.empty()))
        c.warnings.push_back(which + ": " + url + " has no username or credential; the TURN server will refuse it");
    }
    if (s.credential_type == "oauth")
      c.warnings.push_back(which + ": GStreamer's TURN client has no OAuth; the credential is sent as a password");
  }
  if (c.is_private() && c.connection_id.empty())
    throw std::runtime_error("--mode private needs --connection-id (the id the browser is given)");
  if (!c.mas_url.empty()) {
    const auto mas = url_scheme(c.mas_url);
    if (!mas || (*mas != "http" && *mas != "https"))
      throw std::runtime_error("--mas-url '" + c.mas_url + "' must be an http:// or https:// URL (or empty)");
  }
  if (c.persona.empty() || !std::all_of(c.persona.begin(), c.persona.end(),
                                        [](unsigned char ch) { return std::isalnum(ch) || ch == '-' || ch == '_'; }))
    throw std::runtime_error("--persona '" + c.persona + "' must be a persona id (letters, digits, - and _)");
  if (!find_encoder(c.codec)) {
    std::string names;
    for (const auto& p : encoder_table()) names += (names.empty() ? "" : ", ") + std::string(p.name);
    throw std::runtime_error("unknown --codec '" + c.codec + "' (one of " + names + ")");
  }
  check_range("--width", c.width, 160, 3840);
  check_range("--height", c.height, 160, 3840);
  // 4:2:0 encoders halve the chroma planes, so odd sizes do not encode.
  if (c.width % 2 != 0 || c.height % 2 != 0)
    throw std::runtime_error("--width and --height must be even (" + std::to_string(c.width) + "x" +
                             std::to_string(c.height) + " is not)");
  check_range("--fps", c.fps, 1, 120);
  check_range("--bitrate-kbps", c.bitrate_kbps, 100, 50000);
  if (!c.ice_bind.empty() && !is_ip_literal(c.ice_bind))
    throw std::runtime_error("--ice-bind '" + c.ice_bind + "' must be an IPv4 or IPv6 address");
  if (c.max_viewers < 1 || c.max_viewers > 64) throw std::runtime_error("--max-viewers must be 1..64");
  if (!c.mas_api_key_file.empty()) {
    c.mas_api_key = trimmed(read_file(c.mas_api_key_file, "--mas-api-key-file"));
    if (c.mas_api_key.empty()) throw std::runtime_error("--mas-api-key-file " + c.mas_api_key_file + " is empty");
    if (c.mas_api_key.find_first_of("\r\n") != std::string::npos)
      throw std::runtime_error("--mas-api-key-file " + c.mas_api_key_file + " must hold one key on one line");
  }
}

}  // namespace

std::string signal_config_url(const std::string& signaling_url) {
  std::string url = signaling_url;
  const auto sep = url.find("://");
  const auto scheme = lower(std::string_view(url).substr(0, sep));
  if (scheme == "ws") url.replace(0, sep, "http");
  if (scheme == "wss") url.replace(0, sep, "https");
  const auto query = url.find_first_of("?#");
  if (query != std::string::npos) url.erase(query);
  const auto path = url.find('/', url.find("://") + 3);
  if (path == std::string::npos) url += '/';
  if (url.back() != '/') url += '/';
  return url + "config";
}

cli_result parse_command_line(int argc, const char* const* argv) {
  config c;
  CLI::App app{
      "sparc-stream: the reference render-streaming peer. It speaks the Unity Render Streaming signaling protocol\n"
      "as the Unity Linux player does and streams a software-rendered avatar to browsers over WebRTC. It takes the\n"
      "Unity player's command line, so it can replace the player binary in containers and job scripts.\n"
      "Precedence: flag > environment (SPARC_STREAM_*) > -importJson file > default.",
      "sparc-stream"};
  app.formatter(std::make_shared<unity_formatter>());
  app.get_formatter()->column_width(36);
  app.option_defaults()->always_capture_default();
  app.set_help_flag();  // added again below, after the Unity groups, so --help lists those first

  const std::string unity_group = "Unity player flags (single dash, spelled as the Unity player reads them)";
  const auto unity = [&](CLI::Option* o) { return o->group(unity_group)->envname(env_name(o->get_single_name())); };
  std::vector<std::string> ice_urls;
  std::string ice_username;
  std::string ice_credential;
  std::string ice_credential_type;
  auto* signaling_url = unity(
      app.add_option("--signalingUrl", c.signaling_url, "Signaling server URL: ws://, wss://, http:// or https://"));
  auto* signaling_type =
      unity(app.add_option("--signalingType", c.signaling_type, "websocket or http (default: from the URL scheme)"));
  auto* ice_url = unity(app.add_option("--iceServerUrl", ice_urls,
                                       "STUN/TURN URL of the first ICE server (repeatable; sets its urls)"))
                      ->delimiter(',')
                      ->allow_extra_args(false);
  auto* ice_user = unity(app.add_option("--iceServerUsername", ice_username, "Username of the first ICE server"));
  auto* ice_credential_opt =
      unity(app.add_option("--iceServerCredential", ice_credential, "Credential of the first ICE server"));
  auto* ice_type = unity(
      app.add_option("--iceServerCredentialType", ice_credential_type, "password or oauth, for the first ICE server"));
  auto* polling =
      unity(app.add_option("--pollingInterval", c.polling_interval_ms, "HTTP signaling poll interval in ms"));
  unity(app.add_option("--importJson", c.import_json,
                       "JSON file {signalingType, signalingUrl, iceServers:[{urls, username, credential,\n"
                       "credentialType}], pollingInterval}; the other flags override it"));
  unity(app.add_option("--logFile", c.log_file, "Write the log to this file (- is stdout; default stderr)"));

  const std::string engine_group =
      "Unity engine flags (accepted so a player command line runs unchanged; they do nothing here)";
  bool batchmode = false;
  bool nographics = false;
  bool ignored_flag = false;
  std::string ignored_value;
  app.add_flag("--batchmode", batchmode,
               "Ignored. A real Unity player renders nothing in batch mode, so it would stream nothing (warned)")
      ->group(engine_group);
  app.add_flag("--nographics", nographics, "Ignored. A real Unity player has no graphics device with it (warned)")
      ->group(engine_group);
  for (const char* name : {"--force-vulkan", "--force-glcore", "--force-opengl", "--force-gles", "--popupwindow"})
    app.add_flag(name, ignored_flag, "Ignored (graphics API / window choice of Unity's renderer)")->group(engine_group);
  for (const char* name : {"--screen-fullscreen", "--monitor"})
    app.add_option(name, ignored_value, "Ignored (takes one value, as in Unity)")->type_name("N")->group(engine_group);

  const std::string our_group = "sparc-stream options (each also read from SPARC_STREAM_<NAME>)";
  const auto ours = [&](CLI::Option* o) { return o->group(our_group)->envname(env_name(o->get_single_name())); };
  ours(app.add_option("--mode", c.mode, "public (browsers connect with their own id) or private (we offer)"))
      ->check(CLI::IsMember({"public", "private"}));
  ours(app.add_option("--connection-id", c.connection_id, "Connection id to claim; required in private mode"));
  ours(app.add_option("--mas-url", c.mas_url, "sparc-mas base URL for the conversation (empty: none)"));
  ours(app.add_option("--mas-api-key-file", c.mas_api_key_file,
                      "File holding the sparc-mas API key (never given on the command line)"));
  ours(app.add_option("--persona", c.persona, "Persona the avatar plays"));
  ours(app.add_option("--codec", c.codec, "Video encoder: h264 (x264), openh264 or vp8"));
  ours(app.add_option("--width,--screen-width", c.width, "Frame width, even, 160-3840 (also Unity's -screen-width)"));
  ours(app.add_option("--height,--screen-height", c.height,
                      "Frame height, even, 160-3840 (also Unity's -screen-height)"));
  ours(app.add_option("--fps", c.fps, "Frames per second, 1-120"));
  ours(app.add_option("--bitrate-kbps", c.bitrate_kbps, "Video bitrate and adaptation ceiling, 100-50000 kbit/s"));
  std::string ice_ports = "49152-49200";
  ours(app.add_option("--ice-ports", ice_ports, "UDP port range for media (the range a container publishes)"));
  ours(app.add_option("--ice-bind", c.ice_bind,
                      "Gather only this local address (127.0.0.1 for loopback tests; default: all)"));
  ours(app.add_flag("--ice-from-signal,!--no-ice-from-signal", c.ice_from_signal,
                    "Also use the iceServers (TURN credentials) from the signaling server's /config"));
  ours(app.add_option("--max-viewers", c.max_viewers, "Viewers streamed at once, 1-64"));
  ours(app.add_flag("--frame-counter", c.frame_counter,
                    "Stamp each frame's render time (wall-clock ms, low 32 bits) in the top-left corner, for latency measurement"));
  ours(app.add_option("--bind", c.bind, "Listen address of /health and /metrics"));
  ours(app.add_option("-p,--port", c.port, "Port of /health and /metrics (0 picks a free one; see --ready-file)"));
  ours(app.add_option("--ready-file", c.ready_file, "Write {\"port\",\"pid\"} here once listening"));
  ours(app.add_option("--log-level", c.log_level, "trace, debug, info, warn or error"))
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  ours(app.add_option("--log-format", c.log_format, "json or text"))->check(CLI::IsMember({"json", "text"}));
  app.footer(
      "Unity's -iceServer* flags rewrite fields of the first ICE server (the first of -importJson's iceServers),\n"
      "creating it when there is none. --ice-from-signal adds the signaling server's /config iceServers after them.\n");
  app.set_help_flag("-h,--help", "Print this help and exit")->group(our_group);
  app.set_version_flag("--version", "sparc-stream 0.1.0")->group(our_group);

  auto args = with_long_unity_flags(argc, argv);
  std::reverse(args.begin(), args.end());  // CLI11 takes the vector form back to front
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, version or the error
    if (dynamic_cast<const CLI::ExtrasError*>(&e))
      std::cerr << "sparc-stream: --help lists the Unity flags accepted (spelled case-sensitively, as Unity does)\n";
    return {std::nullopt, code == 0 ? 0 : 2};
  }

  try {
    if (batchmode)
      c.warnings.emplace_back(
          "-batchmode is ignored here, but a real Unity player started with it renders nothing, so the same "
          "command line would stream a blank picture (the deployment notebook's CMD has this bug)");
    if (nographics)
      c.warnings.emplace_back(
          "-nographics is ignored here, but a real Unity player started with it has no graphics device and "
          "cannot stream");
    if (!c.import_json.empty()) {
      auto file = read_import_json(c.import_json, c.warnings);
      if (file.signaling_url && signaling_url->count() == 0) c.signaling_url = *file.signaling_url;
      // The file's type belongs to the file's URL: a URL from a flag or the environment brings its own scheme.
      if (file.signaling_type && signaling_type->count() == 0 && signaling_url->count() == 0)
        c.signaling_type = *file.signaling_type;
      if (file.polling_interval_ms && polling->count() == 0) c.polling_interval_ms = *file.polling_interval_ms;
      c.ice_servers = std::move(file.ice_servers);
    }
    // As in the Unity player: the ICE flags rewrite fields of the first server, creating it when there is none.
    if (ice_url->count() + ice_user->count() + ice_credential_opt->count() + ice_type->count() > 0) {
      if (c.ice_servers.empty()) c.ice_servers.emplace_back();
      auto& first = c.ice_servers.front();
      if (ice_url->count() > 0) first.urls = ice_urls;
      if (ice_user->count() > 0) first.username = ice_username;
      if (ice_credential_opt->count() > 0) first.credential = ice_credential;
      if (ice_type->count() > 0)
        first.credential_type = credential_type(ice_credential_type, "-iceServerCredentialType");
    }
    std::tie(c.ice_port_min, c.ice_port_max) = parse_port_range(ice_ports);
    validate(c);
  } catch (const std::exception& e) {
    std::cerr << "sparc-stream: " << e.what() << "\n";
    return {std::nullopt, 2};
  }
  return {std::move(c), 0};
}

}  // namespace stream
