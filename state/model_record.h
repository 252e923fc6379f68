// The model parameters a state directory was written with, kept in
// <state_dir>/model.json (ModelConfigProto in protobuf JSON): the stored
// state is shaped by them (state/model.h), so a process must not reopen the
// directory with other values.
//
//   ASSIGN_OR_RETURN(std::vector<ModelMismatch> diff,
//                    CheckOrRecordModel(state_dir, model));
//   if (!diff.empty()) refuse, naming each field and both values.
#ifndef ENCORE_STATE_MODEL_RECORD_H_
#define ENCORE_STATE_MODEL_RECORD_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "state/model.h"

namespace encore {

inline constexpr char kModelRecordFile[] = "model.json";

// One state-shaping parameter whose requested value differs from the
// recorded one; values as text in the field's own units.
struct ModelMismatch {
  std::string field;  // ModelConfigProto field name, e.g. "prior_alpha"
  std::string recorded;
  std::string requested;
};

// On the first use of `state_dir` (no model.json yet) records `model`
// durably and returns no mismatch. Afterwards returns every state-shaping
// parameter (all but the read-time ones: prior_strength, the NIG prior,
// ridge, linucb_alpha, lints_scale) whose recorded value differs from
// `model`'s, in field order; empty when they agree. DataLoss if model.json
// does not parse; Unavailable on I/O errors. REQUIRES: state_dir exists.
absl::StatusOr<std::vector<ModelMismatch>> CheckOrRecordModel(
    const std::string& state_dir, const ModelConfig& model);

// The state-shaping parameters (as above) whose values differ between
// `recorded` (what a state was written with) and `requested`.
std::vector<ModelMismatch> DiffStateShapingModel(
    const ModelConfigProto& recorded, const ModelConfigProto& requested);

// "field: recorded R, requested Q; ..." for an error message.
std::string DescribeMismatches(const std::vector<ModelMismatch>& mismatches);

}  // namespace encore

#endif  // ENCORE_STATE_MODEL_RECORD_H_
