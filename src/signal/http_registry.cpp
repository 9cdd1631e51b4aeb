#include "signal/http_registry.hpp"

#include "core/ids.hpp"
#include "signal/limits.hpp"

#include <algorithm>

namespace signaling {

using json = nlohmann::ordered_json;
using ordered_json = nlohmann::ordered_json;

namespace {

template <class Records>
auto find_by_id(Records& records, const std::string& id) {
  return std::find_if(records.begin(), records.end(), [&](const auto& r) { return r.id == id; });
}

template <class Records>
void erase_by_id(Records& records, const std::string& id) {
  records.erase(std::remove_if(records.begin(), records.end(), [&](const auto& r) { return r.id == id; }), records.end());
}

void put_candidate_fields(json& e, const std::optional<nlohmann::json>& c, const std::optional<nlohmann::json>& line,
                          const std::optional<nlohmann::json>& mid) {
  if (c) e["candidate"] = *c;
  if (line) e["sdpMLineIndex"] = *line;
  if (mid) e["sdpMid"] = *mid;
}

}  // namespace

http_registry::session_state* http_registry::find(const std::string& session) {
  auto it = sessions_.find(session);
  return it == sessions_.end() ? nullptr : &it->second;
}

const http_registry::session_state* http_registry::find(const std::string& session) const {
  auto it = sessions_.find(session);
  return it == sessions_.end() ? nullptr : &it->second;
}

std::size_t http_registry::connection_ids() const noexcept {
  std::size_t n = 0;
  for (const auto& [_, s] : sessions_) n += s.ids.size();
  return n;
}

core::result<std::string> http_registry::create_session(std::int64_t now) {
  if (sessions_.size() >= limits::max_http_sessions) return core::make_error_code(core::errc::unavailable);
  auto id = core::uuid_v4();
  auto& s = sessions_[id];
  s.seq = next_seq_++;
  s.last_seen = now;
  return id;
}

bool http_registry::touch(const std::string& session, std::int64_t now) {
  auto* s = find(session);
  if (!s) return false;
  s->last_seen = now;
  return true;
}

void http_registry::add_id(session_state& s, const std::string& id) {
  if (std::find(s.ids.begin(), s.ids.end(), id) == s.ids.end() && s.ids.size() < limits::max_ids_per_owner)
    s.ids.push_back(id);
}

void http_registry::push_disconnect(session_state& s, const std::string& id, std::int64_t datetime) {
  if (s.disconnects.size() >= limits::max_disconnects_per_session) s.disconnects.erase(s.disconnects.begin());
  s.disconnects.push_back({id, datetime});
}

void http_registry::forget(session_state& s, const std::string& id) {
  if (auto pos = std::find(s.ids.begin(), s.ids.end(), id); pos != s.ids.end()) s.ids.erase(pos);
  erase_by_id(s.offers, id);
  erase_by_id(s.answers, id);
  s.candidates.erase(std::remove_if(s.candidates.begin(), s.candidates.end(), [&](const auto& c) { return c.first == id; }),
                     s.candidates.end());
}

void http_registry::remove_connection(const std::string& session, const std::string& id, std::int64_t datetime) {
  auto* s = find(session);
  if (!s) return;
  session_state* partner = nullptr;
  if (auto it = pairs_.find(id); it != pairs_.end()) {
    partner = find(it->second.other(session));
    if (partner == s) partner = nullptr;
  }
  if (private_) {
    if (partner) push_disconnect(*partner, id, datetime);
  } else {
    for (auto& [sid, other] : sessions_)
      if (sid != session) push_disconnect(other, id, datetime);
  }
  // Unlike the reference (quirk Q7) the partner also forgets the id and what it posted for it, so a
  // long-lived Unity session never fills its bounds with ids of departed viewers.
  if (partner) forget(*partner, id);
  pairs_.erase(id);
  forget(*s, id);
  push_disconnect(*s, id, datetime);
}

void http_registry::delete_session(const std::string& session, std::int64_t now) {
  auto* s = find(session);
  if (!s) return;
  const auto ids = s->ids;
  for (const auto& id : ids) remove_connection(session, id, now);
  sessions_.erase(session);
}

std::size_t http_registry::evict_expired(std::int64_t now) {
  std::vector<std::string> expired;
  for (const auto& [id, s] : sessions_)
    if (now - s.last_seen > timeout_ms_) expired.push_back(id);
  for (const auto& id : expired) delete_session(id, now);
  evicted_ += expired.size();
  return expired.size();
}

core::result<http_registry::connect_result> http_registry::create_connection(const std::string& session,
                                                                             const std::string& id, std::int64_t now) {
  auto* s = find(session);
  if (!s) return core::make_error_code(core::errc::not_found);
  if (s->ids.size() >= limits::max_ids_per_owner && std::find(s->ids.begin(), s->ids.end(), id) == s->ids.end())
    return core::make_error_code(core::errc::too_large);
  bool polite = true;
  if (private_) {
    auto it = pairs_.find(id);
    if (it == pairs_.end()) {
      pairs_.emplace(id, pair_state{session, {}});
      polite = false;
    } else if (it->second.first == session || it->second.second == session) {
      polite = it->second.first != session;  // the same session asking again keeps its role
    } else if (!it->second.second.empty()) {
      return core::make_error_code(core::errc::conflict);
    } else {
      it->second.second = session;
      if (auto* first = find(it->second.first)) add_id(*first, id);
    }
  }
  add_id(*s, id);
  return connect_result{polite, now};
}

void http_registry::delete_connection(const std::string& session, const std::string& id, std::int64_t now) {
  remove_connection(session, id, now);
}

void http_registry::post_offer(const std::string& session, const std::string& id, json sdp, std::int64_t now) {
  auto* s = find(session);
  if (!s) return;
  if (private_) {
    auto it = pairs_.find(id);
    if (it == pairs_.end()) return;
    const std::string other = it->second.other(session);
    auto* o = other.empty() ? nullptr : find(other);
    if (!o) return;  // no partner yet: dropped, as in the reference
    erase_by_id(o->offers, id);
    o->offers.push_back({id, std::move(sdp), now, true});
    return;
  }
  pairs_[id] = pair_state{session, {}};
  erase_by_id(s->offers, id);
  s->offers.push_back({id, std::move(sdp), now, false});
}

void http_registry::post_answer(const std::string& session, const std::string& id, json sdp, std::int64_t now) {
  auto* s = find(session);
  if (!s) return;
  add_id(*s, id);
  auto it = pairs_.find(id);
  if (it == pairs_.end()) return;
  const std::string other = it->second.other(session);
  auto* o = other.empty() ? nullptr : find(other);
  if (!o || other == session) return;  // the offerer is gone (or this is its own offer)
  if (!private_) it->second = pair_state{other, session};
  erase_by_id(o->answers, id);
  o->answers.push_back({id, std::move(sdp), now});
  // The offerer's candidates become visible to this answerer's next poll.
  for (auto& [cid, list] : o->candidates)
    if (cid == id)
      for (auto& c : list) c.datetime = now;
}

void http_registry::post_candidate(const std::string& session, const http_candidate& c, std::int64_t now) {
  auto* s = find(session);
  if (!s) return;
  auto it = std::find_if(s->candidates.begin(), s->candidates.end(), [&](const auto& e) { return e.first == c.connection_id; });
  if (it == s->candidates.end()) {
    if (s->candidates.size() >= limits::max_ids_per_owner) return;
    s->candidates.emplace_back(c.connection_id, std::vector<candidate_rec>{});
    it = std::prev(s->candidates.end());
  }
  if (it->second.size() >= limits::max_candidates_per_id) return;
  it->second.push_back({c.candidate, c.sdp_mline_index, c.sdp_mid, now});
}

std::vector<const http_registry::session_state*> http_registry::ordered_others(const std::string& session) const {
  std::vector<const session_state*> out;
  for (const auto& [id, s] : sessions_)
    if (id != session) out.push_back(&s);
  std::sort(out.begin(), out.end(), [](const auto* a, const auto* b) { return a->seq < b->seq; });
  return out;
}

json http_registry::connections(const std::string& session, std::int64_t now) {
  json arr = json::array();
  if (const auto* s = find(session))
    for (const auto& id : s->ids) arr.push_back(ordered_json{{"connectionId", id}, {"type", "connect"}, {"datetime", now}});
  return arr;
}

json http_registry::offers(const std::string& session, std::int64_t from) const {
  json arr = json::array();
  const auto emit = [&](const offer_rec& o) {
    if (from > 0 && o.datetime < from) return;
    arr.push_back(ordered_json{{"connectionId", o.id}, {"sdp", o.sdp}, {"polite", o.polite}, {"type", "offer"}, {"datetime", o.datetime}});
  };
  if (private_) {
    if (const auto* s = find(session))
      for (const auto& o : s->offers) emit(o);
  } else {
    for (const auto* s : ordered_others(session))
      for (const auto& o : s->offers) emit(o);
  }
  return arr;
}

json http_registry::answers(const std::string& session, std::int64_t from) const {
  json arr = json::array();
  if (const auto* s = find(session))
    for (const auto& a : s->answers)
      if (from <= 0 || a.datetime >= from)
        arr.push_back(ordered_json{{"connectionId", a.id}, {"sdp", a.sdp}, {"type", "answer"}, {"datetime", a.datetime}});
  return arr;
}

json http_registry::candidates(const std::string& session, std::int64_t from) const {
  json arr = json::array();
  const auto* s = find(session);
  if (!s) return arr;
  for (const auto& id : s->ids) {
    auto pit = pairs_.find(id);
    if (pit == pairs_.end()) continue;
    const auto& other = pit->second.other(session);
    const auto* o = other.empty() ? nullptr : find(other);
    if (!o) continue;
    for (const auto& [cid, list] : o->candidates) {
      if (cid != id) continue;
      for (const auto& c : list) {
        if (c.datetime < from) continue;
        ordered_json e{{"connectionId", id}};
        put_candidate_fields(e, c.candidate, c.sdp_mline_index, c.sdp_mid);
        e["type"] = "candidate";
        e["datetime"] = c.datetime;
        arr.push_back(std::move(e));
      }
    }
  }
  return arr;
}

json http_registry::all(const std::string& session, std::int64_t from, std::int64_t now) {
  std::vector<json> items;
  const auto* s = find(session);
  if (!s) return ordered_json{{"messages", json::array()}, {"datetime", now}};
  for (const auto& id : s->ids) items.push_back(ordered_json{{"connectionId", id}, {"type", "connect"}, {"datetime", now}});
  for (auto& e : offers(session, from)) items.push_back(std::move(e));
  for (auto& e : answers(session, from)) items.push_back(std::move(e));
  for (auto& e : candidates(session, from)) items.push_back(std::move(e));
  for (const auto& d : s->disconnects)
    if (from <= 0 || d.datetime >= from)
      items.push_back(ordered_json{{"connectionId", d.id}, {"type", "disconnect"}, {"datetime", d.datetime}});
  std::stable_sort(items.begin(), items.end(),
                   [](const json& a, const json& b) { return a["datetime"].get<std::int64_t>() < b["datetime"].get<std::int64_t>(); });
  ordered_json out;
  out["messages"] = std::move(items);
  out["datetime"] = now;
  return out;
}

}  // namespace signaling
