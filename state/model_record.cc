#include "state/model_record.h"

#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "state/file_util.h"
#include "state/status_macros.h"

namespace encore {
namespace {

// Parameters used only when reading: they may change between runs.
const std::set<std::string>& ReadTimeFields() {
  static const auto* fields = new std::set<std::string>{
      "prior_strength", "nig_mu0", "nig_kappa0",   "nig_alpha0",
      "nig_beta0",      "ridge",   "linucb_alpha", "lints_scale"};
  return *fields;
}

std::string FieldText(const ModelConfigProto& m,
                      const google::protobuf::FieldDescriptor* field) {
  const google::protobuf::Reflection* r = m.GetReflection();
  std::string out;
  if (field->is_repeated()) {
    for (int i = 0; i < r->FieldSize(m, field); ++i) {
      std::string v;
      google::protobuf::TextFormat::PrintFieldValueToString(m, field, i, &v);
      absl::StrAppend(&out, i > 0 ? "," : "", v);
    }
    return out;
  }
  google::protobuf::TextFormat::PrintFieldValueToString(m, field, -1, &out);
  return out;
}

}  // namespace

absl::StatusOr<std::vector<ModelMismatch>> CheckOrRecordModel(
    const std::string& state_dir, const ModelConfig& model) {
  const std::string path = state_dir + "/" + kModelRecordFile;
  const ModelConfigProto requested = model.ToProto();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;
    if (!google::protobuf::util::MessageToJsonString(requested, &json, options)
             .ok()) {
      return absl::InternalError("cannot encode the model parameters");
    }
    RETURN_IF_ERROR(ReplaceFileAtomically(path, json));
    return std::vector<ModelMismatch>{};
  }
  ASSIGN_OR_RETURN(std::string json, ReadFile(path));
  ModelConfigProto recorded;
  if (!google::protobuf::util::JsonStringToMessage(json, &recorded).ok()) {
    return absl::DataLossError(path + " does not parse as model parameters");
  }
  return DiffStateShapingModel(recorded, requested);
}

std::vector<ModelMismatch> DiffStateShapingModel(
    const ModelConfigProto& recorded, const ModelConfigProto& requested) {
  std::vector<ModelMismatch> out;
  const google::protobuf::Descriptor* d = ModelConfigProto::descriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = d->field(i);
    if (ReadTimeFields().count(field->name()) > 0) continue;
    const std::string a = FieldText(recorded, field);
    const std::string b = FieldText(requested, field);
    if (a != b) out.push_back({field->name(), a, b});
  }
  return out;
}

std::string DescribeMismatches(const std::vector<ModelMismatch>& mismatches) {
  std::string out;
  for (const ModelMismatch& m : mismatches) {
    absl::StrAppend(&out, out.empty() ? "" : "; ", m.field, ": recorded ",
                    m.recorded, ", requested ", m.requested);
  }
  return out;
}

}  // namespace encore
