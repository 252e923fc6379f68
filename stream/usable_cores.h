// How many cores this process may use: the CPUs it is allowed to run on,
// capped by a cgroup CPU quota (a container's `--cpus` / Kubernetes CPU
// limit), which std::thread::hardware_concurrency() ignores.
#ifndef ENCORE_STREAM_USABLE_CORES_H_
#define ENCORE_STREAM_USABLE_CORES_H_

#include <string>

namespace encore {

// The CPU quota in cores (rounded up) from the cgroup files under
// `cgroup_root`: v2 `cpu.max` ("QUOTA PERIOD" or "max PERIOD"), else v1
// `cpu/cpu.cfs_quota_us` and `cpu/cpu.cfs_period_us` (quota -1 = none).
// 0 when there is no quota or the files are absent or unreadable.
int CgroupCpuQuotaCores(const std::string& cgroup_root);

// min(CPUs in this process's affinity mask, the quota from /sys/fs/cgroup),
// at least 1.
int UsableCores();

}  // namespace encore

#endif  // ENCORE_STREAM_USABLE_CORES_H_
