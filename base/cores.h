// How many CPUs this process may use, for sizing thread pools.
#ifndef DESCENT_BASE_CORES_H_
#define DESCENT_BASE_CORES_H_

namespace descent::base {

// The CPUs in this process's affinity mask, which taskset and container cpusets narrow
// (std::thread::hardware_concurrency() counts every CPU of the machine). At least 1; falls
// back to hardware_concurrency() where the mask cannot be read.
int AvailableCores();

}  // namespace descent::base

#endif  // DESCENT_BASE_CORES_H_
