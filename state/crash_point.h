// Crash points: fault injection for crash tests (like RocksDB's kill points).
//
// With ENCORE_TEST_CRASH_AT="name:n" in the environment, the n-th time the
// process passes CrashPoint("name") it kills itself with SIGKILL, exactly
// as an external kill at that instant would. Without the variable a crash
// point costs a pointer check. ENCORE_TEST_STOP_AT="name:n" stops the
// whole process there instead (SIGSTOP, as a pause would), until SIGCONT.
//
// Points: "commit-partition" (after one partition's atomic commit, before
// the next partition's), "snapshot-checkpointed" (checkpoints written, no
// manifest yet), "snapshot-renamed" (snapshot directory in place, LATEST not
// yet moved), "checkpoint-upload" (a published snapshot about to be
// uploaded to the checkpoint store, stream/checkpoint_uploader.h).
#ifndef ENCORE_STATE_CRASH_POINT_H_
#define ENCORE_STATE_CRASH_POINT_H_

namespace encore {

void CrashPoint(const char* name);

}  // namespace encore

#endif  // ENCORE_STATE_CRASH_POINT_H_
