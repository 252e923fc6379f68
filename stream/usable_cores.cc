#include "stream/usable_cores.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <thread>

namespace encore {
namespace {

// Cores for `quota` microseconds of CPU per `period`, rounded up; 0 if
// either is not positive.
int CoresOf(double quota, double period) {
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<int>(std::ceil(quota / period - 1e-9));
}

}  // namespace

int CgroupCpuQuotaCores(const std::string& cgroup_root) {
  {
    std::ifstream max(cgroup_root + "/cpu.max");
    std::string quota;
    double period = 0;
    if (max >> quota >> period) {
      if (quota == "max") return 0;
      try {
        return CoresOf(std::stod(quota), period);
      } catch (...) {
        return 0;
      }
    }
  }
  std::ifstream quota_file(cgroup_root + "/cpu/cpu.cfs_quota_us");
  std::ifstream period_file(cgroup_root + "/cpu/cpu.cfs_period_us");
  double quota = 0, period = 0;
  if (quota_file >> quota && period_file >> period) {
    return CoresOf(quota, period);
  }
  return 0;
}

int UsableCores() {
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cores = CPU_COUNT(&set);
  const int quota = CgroupCpuQuotaCores("/sys/fs/cgroup");
  if (quota > 0) cores = std::min(cores, quota);
  return std::max(cores, 1);
}

}  // namespace encore
