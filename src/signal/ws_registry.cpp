#include "signal/ws_registry.hpp"

#include "signal/limits.hpp"

#include <algorithm>

namespace signaling {
namespace {

std::shared_ptr<const std::string> share(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

}  // namespace

void ws_registry::open(peer_id p) { owners_.try_emplace(p); }

std::vector<delivery> ws_registry::open_streamer(peer_id p, std::string name) {
  open(p);
  if (!registry_) return {};
  if (name.empty()) name = "streamer-" + std::to_string(p);
  auto payload = share(encode_registered(name));
  streamers_[p] = streamer_state{std::move(name), {}};
  return {{p, std::move(payload)}};
}

std::size_t ws_registry::streamers_busy() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(streamers_.begin(), streamers_.end(), [](const auto& s) { return !s.second.viewer.empty(); }));
}

void ws_registry::release_viewer(const std::string& id) {
  for (auto& [p, s] : streamers_)
    if (s.viewer == id) s.viewer.clear();
}

// Registry mode: a message on an assigned connection id goes to the other side of its assignment only.
// Returns false when the id has no assignment (the reference rules then apply).
bool ws_registry::assigned_route(peer_id from, const std::string& id, const std::shared_ptr<const std::string>& payload,
                                 std::vector<delivery>& out) {
  if (!registry_) return false;
  auto it = pairs_.find(id);
  if (it == pairs_.end() || !streamers_.contains(it->second.second)) return false;
  const peer_id other = it->second.other(from);
  if (other != 0 && other != from) out.push_back({other, payload});
  else ++counts_.dropped_no_partner;
  return true;
}

void ws_registry::disown(peer_id p, const std::string& id) {
  auto it = owners_.find(p);
  if (it == owners_.end()) return;
  auto& ids = it->second;
  if (auto pos = std::find(ids.begin(), ids.end(), id); pos != ids.end()) {
    ids.erase(pos);
    --owned_ids_;
  }
}

bool ws_registry::own(peer_id p, const std::string& id) {
  auto it = owners_.find(p);
  if (it == owners_.end()) return false;
  auto& ids = it->second;
  if (std::find(ids.begin(), ids.end(), id) != ids.end()) return true;
  if (ids.size() >= limits::max_ids_per_owner) return false;
  ids.push_back(id);
  ++owned_ids_;
  return true;
}

std::vector<delivery> ws_registry::handle(peer_id from, const client_message& message, std::int64_t now_ms) {
  if (const auto* reg = std::get_if<register_msg>(&message)) {
    if (!owners_.contains(from) || streamers_.contains(from)) return {};
    if (!registry_) return {{from, share(encode_error("the streamer registry is not enabled (--streamers)", "registry_disabled"))}};
    const auto it = owners_.find(from);
    if (!it->second.empty()) return {{from, share(encode_error("a socket that owns connection ids cannot register", "invalid_state"))}};
    owners_.erase(it);
    return open_streamer(from, reg->name);
  }
  std::vector<delivery> out;
  if (!owners_.contains(from)) return out;
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, connect_msg>) on_connect(from, m, out);
        else if constexpr (std::is_same_v<T, disconnect_msg>) on_disconnect(from, m, out);
        else if constexpr (std::is_same_v<T, offer_msg>) on_offer(from, m, now_ms, out);
        else if constexpr (std::is_same_v<T, answer_msg>) on_answer(from, m, now_ms, out);
        else if constexpr (std::is_same_v<T, candidate_msg>) on_candidate(from, m, now_ms, out);
      },
      message);
  return out;
}

void ws_registry::on_connect(peer_id from, const connect_msg& m, std::vector<delivery>& out) {
  ++counts_.connect;
  bool polite = true;
  if (m.connection_id && private_) {
    const auto& id = *m.connection_id;
    auto it = pairs_.find(id);
    if (it == pairs_.end()) {
      pairs_.emplace(id, pair_state{from, 0});
      polite = false;
    } else if (it->second.first == from || it->second.second == from) {
      polite = it->second.first != from;  // the same socket reconnecting an id keeps its role
    } else if (it->second.second != 0) {
      ++counts_.refused_id_in_use;
      out.push_back({from, share(encode_error(id + ": This connection id is already used."))});
      return;
    } else {
      it->second.second = from;
    }
  }
  if (registry_ && m.connection_id && !streamers_.contains(from)) {
    // Registry mode: the viewer gets a render instance of its own, or a clear error.
    const auto& id = *m.connection_id;
    auto pit = pairs_.find(id);
    const bool assigned = pit != pairs_.end() && pit->second.first == from && streamers_.contains(pit->second.second);
    if (!assigned) {
      auto free = std::find_if(streamers_.begin(), streamers_.end(), [](const auto& s) { return s.second.viewer.empty(); });
      if (free == streamers_.end()) {
        ++counts_.refused_no_streamer;
        const std::string why = streamers_.empty() ? "no renderer is registered; try again shortly"
                                                   : "all " + std::to_string(streamers_.size()) + " renderers are busy; try again later";
        out.push_back({from, share(encode_error(why, "no_free_streamer"))});
        return;
      }
      if (!own(from, id)) {
        ++counts_.refused_too_many_ids;
        out.push_back({from, share(encode_error("too many connection ids on one socket"))});
        return;
      }
      free->second.viewer = id;
      pairs_[id] = pair_state{from, free->first};
    }
    out.push_back({from, share(encode_connect_ack(m.connection_id, polite))});
    return;
  }
  if (m.connection_id && !own(from, *m.connection_id)) {
    ++counts_.refused_too_many_ids;
    out.push_back({from, share(encode_error("too many connection ids on one socket"))});
    return;
  }
  out.push_back({from, share(encode_connect_ack(m.connection_id, polite))});
}

void ws_registry::on_disconnect(peer_id from, const disconnect_msg& m, std::vector<delivery>& out) {
  ++counts_.disconnect;
  auto payload = share(encode_disconnect(m.connection_id));
  if (m.connection_id) {
    const auto& id = *m.connection_id;
    disown(from, id);
    if (auto it = pairs_.find(id); it != pairs_.end()) {
      const peer_id other = it->second.other(from);
      if (other != 0 && other != from) {
        out.push_back({other, payload});
        // The reference keeps the id in the partner's set forever; dropping it is invisible on the
        // wire and keeps a long-lived Unity socket under the per-socket id bound.
        disown(other, id);
      }
      pairs_.erase(it);
    }
    if (registry_) release_viewer(id);
  }
  out.push_back({from, payload});
}

void ws_registry::on_offer(peer_id from, const offer_msg& m, std::int64_t now, std::vector<delivery>& out) {
  if (private_) {
    auto it = pairs_.find(m.connection_id);
    const peer_id other = it == pairs_.end() ? 0 : it->second.other(from);
    if (other == 0 || other == from) {
      ++counts_.dropped_no_partner;
      return;
    }
    ++counts_.offer;
    out.push_back({other, share(encode_offer(m.connection_id, m.sdp_json, now, true))});
    return;
  }
  ++counts_.offer;
  auto payload = share(encode_offer(m.connection_id, m.sdp_json, now, false));
  if (assigned_route(from, m.connection_id, payload, out)) return;
  pairs_[m.connection_id] = pair_state{from, 0};
  broadcast(from, payload, out);
}

void ws_registry::on_answer(peer_id from, const answer_msg& m, std::int64_t now, std::vector<delivery>& out) {
  if (registry_ && assigned_route(from, m.connection_id, share(encode_answer(m.connection_id, m.sdp_json, now)), out)) {
    ++counts_.answer;
    return;
  }
  own(from, m.connection_id);
  auto it = pairs_.find(m.connection_id);
  if (it == pairs_.end()) {
    ++counts_.dropped_no_partner;
    return;
  }
  const peer_id other = it->second.other(from);
  if (other == 0 || other == from) {
    // Public mode: the offerer answering its own offer (the reference crashes here).
    ++(other == from || it->second.first == from ? counts_.dropped_self_answer : counts_.dropped_no_partner);
    return;
  }
  if (!private_) it->second = pair_state{other, from};
  ++counts_.answer;
  out.push_back({other, share(encode_answer(m.connection_id, m.sdp_json, now))});
}

void ws_registry::on_candidate(peer_id from, const candidate_msg& m, std::int64_t now, std::vector<delivery>& out) {
  auto payload = share(encode_candidate(m.connection_id, m, now));
  if (private_) {
    auto it = pairs_.find(m.connection_id);
    const peer_id other = it == pairs_.end() ? 0 : it->second.other(from);
    if (other == 0 || other == from) {
      ++counts_.dropped_no_partner;
      return;
    }
    ++counts_.candidate;
    out.push_back({other, std::move(payload)});
    return;
  }
  ++counts_.candidate;
  if (assigned_route(from, m.connection_id, payload, out)) return;
  broadcast(from, payload, out);
}

void ws_registry::broadcast(peer_id except, const std::shared_ptr<const std::string>& payload,
                            std::vector<delivery>& out) const {
  out.reserve(out.size() + owners_.size());
  for (const auto& [p, ids] : owners_)
    if (p != except) out.push_back({p, payload});
}

std::vector<delivery> ws_registry::close(peer_id p) {
  std::vector<delivery> out;
  auto it = owners_.find(p);
  if (it == owners_.end()) return out;
  for (const auto& id : it->second) {
    if (auto pit = pairs_.find(id); pit != pairs_.end()) {
      const peer_id other = pit->second.other(p);
      if (other != 0 && other != p && owners_.contains(other)) {
        out.push_back({other, share(encode_disconnect(id))});
        disown(other, id);
      }
      pairs_.erase(pit);
    }
  }
  if (registry_) {
    for (const auto& id : it->second) release_viewer(id);
    if (auto s = streamers_.find(p); s != streamers_.end()) {
      // The viewer of a departing render instance is told its connection is gone.
      if (auto pit = pairs_.find(s->second.viewer); pit != pairs_.end()) {
        const peer_id viewer = pit->second.first;
        if (owners_.contains(viewer)) out.push_back({viewer, share(encode_disconnect(s->second.viewer))});
        pairs_.erase(pit);
      }
      streamers_.erase(s);
    }
  }
  owned_ids_ -= it->second.size();
  owners_.erase(it);
  return out;
}

}  // namespace signaling
