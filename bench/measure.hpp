#pragma once
#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

/// What both load generators read about processes (from /proc) and how they summarise samples.
namespace bench {

/// A `/proc/PID/status` field in KiB ("VmRSS:", "RssAnon:", ...); nullopt when it cannot be read.
std::optional<long> read_status_kb(int pid, std::string_view field);

/// VmRSS of `pid` in KiB.
inline std::optional<long> read_rss_kb(int pid) {
  return read_status_kb(pid, "VmRSS:");
}

/// User plus system CPU seconds `pid` has used, all threads (fields 14 and 15 of /proc/PID/stat).
std::optional<double> read_cpu_s(int pid);

/// CPU seconds all cores have spent busy since boot (/proc/stat), to see load from other processes.
double machine_busy_s();

/// CPU seconds this process has used.
double self_cpu_s();

/// Busy CPU on the machine not spent by the server or the generator, in % of one core: anything above a few
/// percent means the figures were taken on a machine doing other work.
long other_cpu_pct(double machine_s, double server_s, double bench_s, double elapsed_s);

double round_to(double value, int decimals);

/// Nearest-rank percentile (q in (0, 1]) of samples sorted ascending; 0 for none.
double percentile(const std::vector<double>& sorted, double q);

}  // namespace bench
