#include "deploy/model.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace deploy {
namespace {

bool has_args(const service& s, std::initializer_list<std::string_view> seq) {
  const std::vector<std::string> want(seq.begin(), seq.end());
  return std::search(s.args.begin(), s.args.end(), want.begin(), want.end()) != s.args.end();
}

TEST(model, the_default_stack_starts_backend_then_signaling_then_renderer) {
  const auto st = build_stack(stack_spec{});
  ASSERT_EQ(st.services.size(), 3u);
  EXPECT_EQ(st.services[0].name, "mas");
  EXPECT_EQ(st.services[1].name, "signal");
  EXPECT_EQ(st.services[2].name, "renderer-1");
  const auto& r = st.services[2];
  EXPECT_EQ(r.program, "sparc-stream");
  EXPECT_TRUE(has_args(r, {"-signalingUrl", "ws://{signal_host}:8080"}));
  EXPECT_TRUE(has_args(r, {"--ice-ports", "49152-49200"}));
  EXPECT_EQ(r.health_port, 8090);
  EXPECT_TRUE(has_args(st.services[0], {"--db", "{data}/sparc-mas.db"}));
}

TEST(model, turn_wires_coturn_signal_and_renderers_together) {
  stack_spec s;
  s.coturn.enabled = true;
  s.coturn.secret_file = "turn.secret";
  s.public_host = "stack.example.org";
  s.renderer.instances = 2;
  s.signal.transport = "http";
  const auto st = build_stack(s);
  ASSERT_NE(st.find("coturn"), nullptr);
  const auto& sig = *st.find("signal");
  EXPECT_TRUE(has_args(sig, {"--turn-url", "turn:stack.example.org:3478?transport=udp"}));
  EXPECT_TRUE(has_args(sig, {"--turn-secret-file", "{secret:turn_secret}"}));
  EXPECT_EQ(sig.depends_on, std::vector<std::string>{"coturn"});
  const auto renderers = st.by_role("renderer");
  ASSERT_EQ(renderers.size(), 2u);
  EXPECT_EQ(renderers[1]->health_port, 8091);
  EXPECT_TRUE(has_args(*renderers[1], {"-signalingUrl", "http://{signal_host}:8080"}));
  EXPECT_NE(std::find(renderers[0]->args.begin(), renderers[0]->args.end(), "--ice-from-signal"), renderers[0]->args.end());
}

TEST(model, a_unity_renderer_gets_the_player_flags_and_a_gpu) {
  stack_spec s;
  s.renderer.kind = "unity";
  s.renderer.unity_build = "/opt/build";
  s.renderer.unity_executable = "SPARC.x86_64";
  s.renderer.graphics_api = "glcore";
  const auto st = build_stack(s);
  const auto& r = *st.find("renderer-1");
  EXPECT_EQ(r.program, "/opt/build/SPARC.x86_64");
  EXPECT_TRUE(has_args(r, {"-signalingType", "websocket"}));
  EXPECT_NE(std::find(r.args.begin(), r.args.end(), "-force-glcore"), r.args.end());
  EXPECT_EQ(std::find(r.args.begin(), r.args.end(), "-batchmode"), r.args.end());
  EXPECT_EQ(r.gpus, 1);
}

TEST(model, the_backend_is_pointed_at_the_model_server_with_one_adapter_per_agent) {
  stack_spec s;
  s.llm.enabled = true;
  s.llm.port = 8100;
  s.llm.model = "meta-llama/Llama-3.1-8B-Instruct";
  s.llm.adapters = {{"caregiver", "caregiver-lora"}, {"coach", "coach-lora"}};
  const auto local = build_stack(s);
  const auto& mas = *local.find("mas");
  EXPECT_TRUE(has_args(mas, {"--engine", "openai", "--llm-url", "http://127.0.0.1:8100/v1"}));
  EXPECT_TRUE(has_args(mas, {"--llm-model", "meta-llama/Llama-3.1-8B-Instruct"}));
  EXPECT_TRUE(has_args(mas, {"--llm-adapter", "caregiver=caregiver-lora", "--llm-adapter", "coach=coach-lora"}));
  EXPECT_NE(std::find(mas.depends_on.begin(), mas.depends_on.end(), "llm"), mas.depends_on.end());

  s.llm.base_url = "http://gpu-node:8000/v1";
  s.llm.api_key_file = "/etc/sparc/llm-key";
  const auto remote = build_stack(s);
  const auto& m2 = *remote.find("mas");
  EXPECT_TRUE(has_args(m2, {"--llm-url", "http://gpu-node:8000/v1"}));
  EXPECT_TRUE(has_args(m2, {"--llm-api-key-file", "{secret:llm_api_key}"}));
  EXPECT_EQ(m2.secrets.at("llm_api_key"), "/etc/sparc/llm-key");
  EXPECT_EQ(std::find(m2.depends_on.begin(), m2.depends_on.end(), "llm"), m2.depends_on.end());
}

TEST(model, riva_speaks_and_listens_for_the_backend) {
  stack_spec s;
  s.riva.enabled = true;
  s.mas.port = 8010;
  const auto st = build_stack(s);
  const auto& mas = *st.find("mas");
  EXPECT_TRUE(has_args(mas, {"--tts", "riva", "--asr", "riva", "--riva-url", "127.0.0.1:50051"}));
  EXPECT_NE(std::find(mas.depends_on.begin(), mas.depends_on.end(), "riva"), mas.depends_on.end());
}

TEST(model, placeholders_expand_and_unknown_ones_stay) {
  EXPECT_EQ(expand("{data}/x.db", {{"data", "/var/lib/s"}}), "/var/lib/s/x.db");
  EXPECT_EQ(expand("a{secret:k}b{other}", {{"secret:k", "/s/k"}}), "a/s/kb{other}");
  EXPECT_EQ(expand("no braces", {}), "no braces");
  EXPECT_EQ(expand("{unclosed", {}), "{unclosed");
}

}  // namespace
}  // namespace deploy
