#include "deploy/runner.hpp"

#include "deploy/probe.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace deploy {

namespace fs = std::filesystem;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr auto stop_grace = 10s;          ///< SIGTERM to SIGKILL, per stack (services stop in well under 1 s)
constexpr auto backoff_min = 1s;          ///< first restart delay after a crash
constexpr auto backoff_max = 30s;
constexpr auto backoff_reset_after = 60s;  ///< healthy this long: the next crash restarts quickly again
constexpr auto health_every = 5s;         ///< background health probes while running
constexpr auto probe_timeout = 1s;

volatile std::sig_atomic_t stop_requested = 0;
extern "C" void on_stop_signal(int) { stop_requested = 1; }

std::string now_text() {
  const auto t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) return "?";
  return buf;
}

std::string probe_host(const stack& st) {
  const auto& b = st.spec.bind;
  return b == "0.0.0.0" || b == "::" || b.empty() ? "127.0.0.1" : b;
}

/// A service the runner manages.
struct proc {
  const service* svc = nullptr;
  std::vector<std::string> argv;  ///< program first, placeholders filled
  pid_t pid = -1;
  std::string state = "stopped";  ///< starting, healthy, unhealthy, restarting, failed, stopped
  int restarts = 0;
  int last_exit = 0;
  clock_type::time_point started{};
  clock_type::time_point restart_at{};
  std::chrono::seconds backoff = backoff_min;
};

fs::path pid_file(const fs::path& dir) { return dir / "sparc.pid"; }
fs::path state_file(const fs::path& dir) { return dir / "state.json"; }

pid_t read_pid(const fs::path& dir) {
  std::ifstream in(pid_file(dir));
  long pid = 0;
  if (!(in >> pid) || pid <= 1) return -1;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM ? static_cast<pid_t>(pid) : -1;
}

void write_atomically(const fs::path& path, const std::string& text) {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
  }
  fs::rename(tmp, path);
}

bool healthy_now(const stack& st, const service& s) {
  return s.health_port == 0 || probe_health(probe_host(st), s.health_port, s.health_path, probe_timeout);
}

std::string tail_lines(const fs::path& file, int lines) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  const auto size = static_cast<long long>(in.tellg());
  const auto from = std::max<long long>(0, size - 256LL * 1024);
  in.seekg(from);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t pos = text.size();
  int count = 0;
  if (!text.empty() && text.back() == '\n') --pos;
  while (pos > 0) {
    const auto nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) {
      pos = 0;
      break;
    }
    if (++count >= lines) {
      pos = nl + 1;
      break;
    }
    pos = nl;
  }
  return text.substr(pos);
}

class supervisor {
 public:
  supervisor(const stack& st, const runner_options& opt) : st_(st), opt_(opt), say_(opt.say) {}

  /// Progress goes here from now on (a detached supervisor reports through a pipe to the caller).
  void report_to(std::function<void(const std::string&)> say) { say_ = std::move(say); }

  /// Checks what can be checked before anything starts. Empty when fine, else the reason.
  std::string preflight() {
    for (const auto& s : st_.services) {
      if (s.external) continue;
      if (s.role == "riva" || s.role == "llm") {
        say_("  - " + s.name + ": runs only in containers (sparc render --target pod); not started here");
        continue;
      }
      proc p;
      p.svc = &s;
      const auto program = find_program(s.program, opt_.bin_dir);
      if (program.empty())
        return s.name + ": cannot find the program '" + s.program + "' (build it, install it, or pass --bin-dir)";
      p.argv.push_back(program.string());
      for (const auto& a : s.args) p.argv.push_back(fill(s, a));
      for (const auto& a : process_extras(st_, s)) p.argv.push_back(a);
      for (const auto& [name, file] : s.secrets) {
        const auto path = secret_path(file);
        if (!fs::exists(path)) return s.name + ": secret '" + name + "' file " + path.string() + " does not exist";
      }
      const auto host = probe_host(st_);
      for (const auto& port : s.ports)
        if (port.protocol == "tcp" && tcp_open(host, port.port, 300ms))
          return s.name + ": " + host + ":" + std::to_string(port.port) +
                 " is already in use (another stack? `sparc down`, or change the port in the spec)";
      procs_.push_back(std::move(p));
    }
    return {};
  }

  /// Starts everything in order, each healthy before the next. False (everything stopped again) on failure.
  bool start_all() {
    for (auto& p : procs_) {
      if (stop_requested) return false;
      const auto t0 = clock_type::now();
      if (!spawn(p)) return false;
      const auto deadline = t0 + opt_.health_timeout;
      while (true) {
        if (stop_requested) return false;
        int status = 0;
        if (::waitpid(p.pid, &status, WNOHANG) == p.pid) {
          p.pid = -1;
          p.state = "failed";
          save();
          say_("  ✗ " + p.svc->name + " exited during start (" + describe_exit(status) + "); last lines of " +
                   log_path(*p.svc).string() + ":\n" + tail_lines(log_path(*p.svc), 12));
          return false;
        }
        if (healthy_now(st_, *p.svc)) break;
        if (clock_type::now() > deadline) {
          p.state = "unhealthy";
          save();
          say_("  ✗ " + p.svc->name + " not healthy after " + std::to_string(opt_.health_timeout.count()) +
                   " s; last lines of its log:\n" + tail_lines(log_path(*p.svc), 12));
          return false;
        }
        std::this_thread::sleep_for(50ms);
      }
      p.state = "healthy";
      save();
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t0).count();
      std::ostringstream line;
      line << "  ✔ " << p.svc->name << std::string(12 - std::min<std::size_t>(11, p.svc->name.size()), ' ')
           << "healthy in " << ms << " ms" << (p.svc->health_port ? "  " + endpoint(*p.svc) : "");
      say_(line.str());
    }
    return true;
  }

  /// Watches the services until a stop is requested: restarts crashed ones with backoff, probes health.
  void supervise() {
    auto next_probe = clock_type::now() + health_every;
    while (!stop_requested) {
      std::this_thread::sleep_for(100ms);
      const auto now = clock_type::now();
      for (auto& p : procs_) {
        if (p.pid > 0) {
          int status = 0;
          if (::waitpid(p.pid, &status, WNOHANG) == p.pid) {
            p.pid = -1;
            p.last_exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            const bool crashed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
            append_log(*p.svc, "=== sparc: exited (" + describe_exit(status) + ") at " + now_text() + " ===");
            if (p.svc->restart == "always" || (p.svc->restart == "on-failure" && crashed)) {
              if (now - p.started > backoff_reset_after) p.backoff = backoff_min;
              p.restart_at = now + p.backoff;
              p.state = "restarting";
              append_log(*p.svc, "=== sparc: restarting in " + std::to_string(p.backoff.count()) + " s ===");
              p.backoff = std::min(p.backoff * 2, std::chrono::seconds(backoff_max));
            } else {
              p.state = "stopped";
            }
            save();
          }
        } else if (p.state == "restarting" && now >= p.restart_at) {
          ++p.restarts;
          spawn(p);
          p.state = "starting";
          save();
        }
      }
      if (now >= next_probe) {
        next_probe = now + health_every;
        bool changed = false;
        for (auto& p : procs_) {
          if (p.pid <= 0) continue;
          const auto state = healthy_now(st_, *p.svc) ? "healthy" : (p.state == "starting" ? "starting" : "unhealthy");
          if (p.state != state) {
            p.state = state;
            changed = true;
          }
        }
        if (changed) save();
      }
    }
  }

  /// SIGTERM in reverse start order, then SIGKILL whatever is left after the grace period.
  void stop_all() {
    for (auto it = procs_.rbegin(); it != procs_.rend(); ++it)
      if (it->pid > 0) ::kill(-it->pid, SIGTERM);
    const auto deadline = clock_type::now() + stop_grace;
    while (true) {
      bool any = false;
      for (auto& p : procs_) {
        if (p.pid <= 0) continue;
        int status = 0;
        if (::waitpid(p.pid, &status, WNOHANG) == p.pid) {
          append_log(*p.svc, "=== sparc: stopped (" + describe_exit(status) + ") at " + now_text() + " ===");
          p.pid = -1;
          p.state = "stopped";
        } else {
          any = true;
        }
      }
      if (!any) break;
      if (clock_type::now() > deadline) {
        for (auto& p : procs_)
          if (p.pid > 0) {
            ::kill(-p.pid, SIGKILL);
            ::waitpid(p.pid, nullptr, 0);
            append_log(*p.svc, "=== sparc: killed after the stop grace period ===");
            p.pid = -1;
            p.state = "stopped";
          }
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
    save();
  }

  void save() const {
    json services = json::array();
    for (const auto& p : procs_) {
      services.push_back({{"name", p.svc->name},
                          {"role", p.svc->role},
                          {"pid", p.pid},
                          {"state", p.state},
                          {"restarts", p.restarts},
                          {"last_exit", p.last_exit},
                          {"health", p.svc->health_port ? endpoint(*p.svc) : ""},
                          {"health_host", probe_host(st_)},
                          {"health_port", p.svc->health_port},
                          {"health_path", p.svc->health_path},
                          {"log", log_path(*p.svc).string()}});
    }
    const json state{{"stack", st_.spec.name},
                     {"supervisor_pid", static_cast<long>(::getpid())},
                     {"updated", now_text()},
                     {"url", "http://" + st_.spec.public_host + ":" + std::to_string(st_.spec.signal.port) + "/"},
                     {"services", services}};
    write_atomically(state_file(opt_.state_dir), state.dump(2) + "\n");
  }

 private:
  fs::path secret_path(const std::string& file) const {
    const fs::path p(file);
    return p.is_absolute() ? p : opt_.spec_dir / p;
  }

  fs::path data_dir(const service& s) const { return opt_.state_dir / "data" / s.name; }
  fs::path log_path(const service& s) const { return opt_.state_dir / "logs" / (s.name + ".log"); }

  std::string endpoint(const service& s) const {
    if (s.health_path.empty()) return "tcp://" + probe_host(st_) + ":" + std::to_string(s.health_port);
    return "http://" + probe_host(st_) + ":" + std::to_string(s.health_port) + s.health_path;
  }

  std::string fill(const service& s, const std::string& arg) const {
    std::map<std::string, std::string> values{{"data", data_dir(s).string()},
                                              {"signal_host", probe_host(st_)},
                                              {"mas_host", probe_host(st_)}};
    for (const auto& [name, file] : s.secrets) values["secret:" + name] = secret_path(file).string();
    return expand(arg, values);
  }

  void append_log(const service& s, const std::string& line) const {
    std::ofstream(log_path(s), std::ios::app) << line << "\n";
  }

  static std::string describe_exit(int status) {
    if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("signal ") + ::strsignal(WTERMSIG(status));
    return "status " + std::to_string(status);
  }

  /// coturn takes its shared secret only inline: the runner writes the config (0600) into the service's data folder.
  void write_coturn_conf(const service& s) const {
    const auto& c = st_.spec.coturn;
    std::string secret;
    if (auto it = s.secrets.find("turn_secret"); it != s.secrets.end()) {
      std::ifstream in(secret_path(it->second));
      std::getline(in, secret);
    }
    const auto host = probe_host(st_);
    std::ostringstream conf;
    conf << "# written by sparc up from " << st_.spec.file << "; do not edit\n"
         << "listening-ip=" << host << "\nrelay-ip=" << host << "\nlistening-port=" << c.port
         << "\nmin-port=" << c.relay_min << "\nmax-port=" << c.relay_max << "\nrealm=" << c.realm
         << "\nfingerprint\nuse-auth-secret\nstatic-auth-secret=" << secret
         << "\nno-tls\nno-dtls\nno-cli\nno-multicast-peers\nlog-file=stdout\nsimple-log\n"
         << "userdb=" << (data_dir(s) / "turndb").string() << "\npidfile=" << (data_dir(s) / "turnserver.pid").string()
         << "\n";
    if (host.starts_with("127.")) conf << "allow-loopback-peers\n";
    const auto path = data_dir(s) / "turnserver.conf";
    {
      std::ofstream out(path, std::ios::trunc);
      out << conf.str();
    }
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  }

  bool spawn(proc& p) {
    const auto& s = *p.svc;
    fs::create_directories(data_dir(s));
    fs::create_directories(log_path(s).parent_path());
    if (s.role == "coturn") write_coturn_conf(s);
    append_log(s, "=== sparc: starting " + s.name + " at " + now_text() + " ===");
    const int log_fd = ::open(log_path(s).c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (log_fd < 0) {
      say_("  ✗ " + s.name + ": cannot open its log: " + std::strerror(errno));
      return false;
    }
    // Environment: ours, the service's settings, and readable logs for our own binaries.
    auto env = s.env;
    if (s.program.starts_with("sparc-")) {
      std::string key = "SPARC_" + s.program.substr(6) + "_LOG_FORMAT";
      std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::toupper(c); });
      if (!env.count(key) && !std::getenv(key.c_str())) env[key] = "text";
    }
    auto env_text = environment_with(env);
    std::vector<char*> envp;
    envp.reserve(env_text.size() + 1);
    for (auto& e : env_text) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<char*> argv;
    for (auto& a : p.argv) argv.push_back(a.data());
    argv.push_back(nullptr);
    const auto parent = ::getpid();
    const std::string work_dir = data_dir(s).string();  // nothing is allocated between fork and exec
    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(log_fd);
      say_("  ✗ " + s.name + ": fork failed: " + std::strerror(errno));
      return false;
    }
    if (pid == 0) {
      // The child: its own process group (stopped as a whole), killed if the supervisor dies, output to its log.
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(127);
      (void)::signal(SIGINT, SIG_DFL);
      (void)::signal(SIGTERM, SIG_DFL);
      (void)::signal(SIGPIPE, SIG_DFL);
      const int null_fd = ::open("/dev/null", O_RDONLY);
      ::dup2(null_fd, 0);
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      if (::chdir(work_dir.c_str()) != 0) ::_exit(126);
      ::execve(argv[0], argv.data(), envp.data());
      constexpr std::string_view msg = "sparc: exec failed\n";
      (void)!::write(2, msg.data(), msg.size());
      ::_exit(127);
    }
    ::setpgid(pid, pid);
    ::close(log_fd);
    p.pid = pid;
    p.started = clock_type::now();
    p.state = "starting";
    save();
    return true;
  }

  const stack& st_;
  const runner_options& opt_;
  std::function<void(const std::string&)> say_;
  std::vector<proc> procs_;
};

}  // namespace

fs::path find_program(const std::string& program, const fs::path& bin_dir) {
  if (program.empty()) return {};
  const fs::path given(program);
  const auto executable = [](const fs::path& p) { return ::access(p.c_str(), X_OK) == 0 && fs::is_regular_file(p); };
  if (program.find('/') != std::string::npos) return executable(given) ? fs::absolute(given) : fs::path{};
  if (!bin_dir.empty()) {
    for (const auto& p : {bin_dir / program, bin_dir / program / program})
      if (executable(p)) return fs::absolute(p);
  }
  std::error_code ec;
  const auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto here = self.parent_path();
    // The build tree (build/<preset>/apps/sparc/sparc next to apps/sparc-mas/sparc-mas) or an install (bin/).
    for (const auto& p : {here.parent_path() / program / program, here / program})
      if (executable(p)) return p;
  }
  return search_path(program);
}

fs::path search_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path || program.empty()) return {};
  std::string_view rest(path);
  while (!rest.empty()) {
    const auto colon = rest.find(':');
    fs::path candidate = fs::path(std::string(rest.substr(0, colon))) / program;
    if (colon != 0 && ::access(candidate.c_str(), X_OK) == 0 && fs::is_regular_file(candidate)) return candidate;
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return {};
}

std::vector<std::string> environment_with(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    const std::string_view kv(*e);
    if (!extra.count(std::string(kv.substr(0, kv.find('='))))) out.emplace_back(kv);
  }
  for (const auto& [k, v] : extra) out.push_back(k + "=" + v);
  return out;
}

int up(const stack& st, const runner_options& opt) {
  fs::create_directories(opt.state_dir / "logs");
  if (const auto pid = read_pid(opt.state_dir); pid > 0) {
    opt.say("sparc: the stack in " + opt.state_dir.string() + " is already up (supervisor pid " + std::to_string(pid) +
            "); `sparc status` shows it, `sparc down` stops it");
    return 2;
  }
  supervisor sup(st, opt);
  opt.say("Starting stack '" + st.spec.name + "' (process runtime, state in " + opt.state_dir.string() + ")");
  if (const auto why = sup.preflight(); !why.empty()) {
    opt.say("sparc: " + why);
    return 2;
  }

  int ready_pipe[2] = {-1, -1};
  if (opt.detach) {
    if (::pipe2(ready_pipe, O_CLOEXEC) != 0) {
      opt.say(std::string("sparc: pipe: ") + std::strerror(errno));
      return 2;
    }
    const pid_t child = ::fork();
    if (child < 0) {
      opt.say(std::string("sparc: fork: ") + std::strerror(errno));
      return 2;
    }
    if (child > 0) {
      // The caller: relay the supervisor's progress until it reports the outcome.
      ::close(ready_pipe[1]);
      std::string buffer;
      char chunk[4096];
      int code = 1;
      while (true) {
        const auto n = ::read(ready_pipe[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        buffer.append(chunk, static_cast<std::size_t>(n));
        for (auto nl = buffer.find('\n'); nl != std::string::npos; nl = buffer.find('\n')) {
          const auto line = buffer.substr(0, nl);
          buffer.erase(0, nl + 1);
          if (line.starts_with("\x01result ")) code = std::atoi(line.c_str() + 8);
          else opt.say(line);
        }
      }
      ::close(ready_pipe[0]);
      return code;
    }
    ::close(ready_pipe[0]);
    ::setsid();
  }

  const auto report = [&](const std::string& line) {
    if (!opt.detach) return opt.say(line);
    if (ready_pipe[1] < 0) return;
    const auto text = line + "\n";
    (void)!::write(ready_pipe[1], text.data(), text.size());
  };
  supervisor& running = sup;
  running.report_to(report);

  struct sigaction sa{};
  sa.sa_handler = on_stop_signal;
  ::sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGHUP, &sa, nullptr);
  (void)std::signal(SIGPIPE, SIG_IGN);
  write_atomically(pid_file(opt.state_dir), std::to_string(::getpid()) + "\n");

  const auto t0 = clock_type::now();
  const bool ok = running.start_all();
  int code = 0;
  if (ok) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t0).count();
    report("Stack '" + st.spec.name + "' is up in " + std::to_string(ms) + " ms. Open http://" + st.spec.public_host +
           ":" + std::to_string(st.spec.signal.port) + "/ in a browser.");
    report(opt.detach ? "It runs in the background: `sparc status`, `sparc logs SERVICE`, `sparc down`."
                      : "Ctrl-C stops it; `sparc status` and `sparc logs SERVICE` work from another terminal.");
  } else {
    code = stop_requested ? 130 : 1;
    report(stop_requested ? "Interrupted; stopping what started." : "Start failed; stopping what started.");
  }
  if (opt.detach) {
    const auto text = "\x01result " + std::to_string(code) + "\n";
    (void)!::write(ready_pipe[1], text.data(), text.size());
    ::close(ready_pipe[1]);
    ready_pipe[1] = -1;
    // From here the supervisor's own messages go to its log.
    const auto log = (opt.state_dir / "logs" / "sparc.log").string();
    const int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
  }
  if (ok) running.supervise();
  running.stop_all();
  std::error_code ec;
  fs::remove(pid_file(opt.state_dir), ec);
  if (!opt.detach) opt.say("Stack '" + st.spec.name + "' stopped.");
  if (opt.detach) std::_Exit(code);  // the background supervisor ends here; the caller already returned
  return code;
}

int down(const fs::path& state_dir, std::chrono::seconds timeout, const std::function<void(const std::string&)>& say) {
  const auto pid = read_pid(state_dir);
  if (pid <= 0) {
    // No supervisor; stop services a killed supervisor may have left (they die with it, but be sure).
    std::ifstream in(state_file(state_dir));
    auto state = json::parse(in, nullptr, false);
    int left = 0;
    if (state.is_object() && state["services"].is_array())
      for (const auto& s : state["services"])
        if (const auto p = s.value("pid", -1); p > 1 && ::kill(-p, SIGTERM) == 0) ++left;
    say(left ? "Stopped " + std::to_string(left) + " service(s) left over by a supervisor that is gone."
             : "Nothing is running from " + state_dir.string() + ".");
    return left ? 0 : 3;
  }
  say("Stopping the stack (supervisor pid " + std::to_string(pid) + ")...");
  ::kill(pid, SIGTERM);
  const auto deadline = clock_type::now() + timeout;
  while (::kill(pid, 0) == 0) {
    if (clock_type::now() > deadline) {
      say("sparc: the supervisor did not stop within " + std::to_string(timeout.count()) + " s; sending SIGKILL");
      ::kill(pid, SIGKILL);
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  say("Stopped.");
  return 0;
}

int status(const fs::path& state_dir, bool as_json, const std::function<void(const std::string&)>& say) {
  const auto pid = read_pid(state_dir);
  std::ifstream in(state_file(state_dir));
  auto state = json::parse(in, nullptr, false);
  if (pid <= 0 || !state.is_object()) {
    say(as_json ? R"({"running":false})" : "The stack in " + state_dir.string() + " is not running (`sparc up`).");
    return 3;
  }
  bool all = true;
  for (auto& s : state["services"]) {
    const auto port = s.value("health_port", 0);
    const bool ok = port <= 0 || probe_health(s.value("health_host", "127.0.0.1"), static_cast<std::uint16_t>(port),
                                              s.value("health_path", ""), probe_timeout);
    const auto pid_alive = s.value("pid", -1) > 0 && ::kill(s.value("pid", -1), 0) == 0;
    s["healthy_now"] = ok && pid_alive;
    all = all && ok && pid_alive;
  }
  if (as_json) {
    state["running"] = true;
    say(state.dump(2));
    return all ? 0 : 1;
  }
  say("Stack '" + state.value("stack", "?") + "' (supervisor pid " + std::to_string(pid) + ") at " +
      state.value("url", ""));
  say("  SERVICE       STATE        PID      RESTARTS  HEALTH");
  for (const auto& s : state["services"]) {
    char line[512];
    (void)std::snprintf(line, sizeof line, "  %-13s %-12s %-8d %-9d %s %s", s.value("name", "").c_str(),
                  s.value("state", "").c_str(), s.value("pid", -1), s.value("restarts", 0),
                  s["healthy_now"].get<bool>() ? "ok  " : "FAIL", s.value("health", "").c_str());
    say(line);
  }
  return all ? 0 : 1;
}

int logs(const fs::path& state_dir, const std::string& service, int lines, bool follow,
         const std::function<void(const std::string&)>& say) {
  const auto file = state_dir / "logs" / (service + ".log");
  if (!fs::exists(file)) {
    std::string known;
    if (fs::exists(state_dir / "logs"))
      for (const auto& e : fs::directory_iterator(state_dir / "logs"))
        if (e.path().extension() == ".log") known += (known.empty() ? "" : ", ") + e.path().stem().string();
    say("sparc: no log for '" + service + "' in " + (state_dir / "logs").string() +
        (known.empty() ? " (has the stack run here?)" : " (there are: " + known + ")"));
    return 2;
  }
  auto text = tail_lines(file, lines);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty()) say(text);
  if (!follow) return 0;
  struct sigaction sa{};
  sa.sa_handler = on_stop_signal;
  ::sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  std::ifstream in(file, std::ios::binary);
  in.seekg(0, std::ios::end);
  std::string partial;
  while (!stop_requested) {
    std::string chunk(8192, '\0');
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    chunk.resize(static_cast<std::size_t>(in.gcount()));
    in.clear();
    if (chunk.empty()) {
      std::this_thread::sleep_for(200ms);
      continue;
    }
    partial += chunk;
    for (auto nl = partial.find('\n'); nl != std::string::npos; nl = partial.find('\n')) {
      say(partial.substr(0, nl));
      partial.erase(0, nl + 1);
    }
  }
  return 0;
}

}  // namespace deploy
