// Protocol buffers written in tests as protobuf's JSON mapping, the way users write job and
// sweep files: `ParseJsonProto<v1::SweepSpec>(R"({"trials": 4})")`.
#ifndef DESCENT_TESTS_TESTING_JSON_PROTO_H_
#define DESCENT_TESTS_TESTING_JSON_PROTO_H_

#include <string>

#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace descent::testing {

// `json` as a T. JSON that does not parse is a broken test: the test fails with protobuf's
// complaint and gets an empty message.
template <typename T>
T ParseJsonProto(const std::string& json) {
  T message;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &message);
  if (!status.ok()) {
    ADD_FAILURE() << "not a " << T::descriptor()->full_name() << " in JSON ("
                  << status.message() << "):\n" << json;
    message.Clear();
  }
  return message;
}

}  // namespace descent::testing

#endif  // DESCENT_TESTS_TESTING_JSON_PROTO_H_
