// Protocol buffers written in tests as protobuf text format, the way they read in a
// debugger: `ParseTextProto<v1::JobSpec>(R"pb(loss: MEAN_SQUARED_ERROR)pb")`.
#ifndef DESCENT_TESTS_TESTING_TEXT_PROTO_H_
#define DESCENT_TESTS_TESTING_TEXT_PROTO_H_

#include <string>

#include "gtest/gtest.h"
#include "google/protobuf/text_format.h"

namespace descent::testing {

// `text` as a T. Text that does not parse is a broken test: the test fails with protobuf's
// complaint (on stderr) and gets an empty message.
template <typename T>
T ParseTextProto(const std::string& text) {
  T message;
  if (!google::protobuf::TextFormat::ParseFromString(text, &message)) {
    ADD_FAILURE() << "not a " << T::descriptor()->full_name() << " in text format:\n" << text;
    message.Clear();
  }
  return message;
}

}  // namespace descent::testing

#endif  // DESCENT_TESTS_TESTING_TEXT_PROTO_H_
