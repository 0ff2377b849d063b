//! What the emulated Graph remembers: onlineMeetings per (tenant, organizer), with the lookups
//! Graph offers on them (`externalId` of `createOrGet`, `$filter` on `JoinWebUrl` and
//! `joinMeetingIdSettings/joinMeetingId`). The store is bounded: past their capacity the oldest entry is forgotten, so that a load test creating
//! millions of meetings keeps a flat memory profile. This module owns no wire format.

use std::{
    collections::{BTreeMap, HashMap},
    time::Instant,
};

use serde_json::Value;

/// Meetings the store keeps at most, unless configured otherwise.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// A key scoped to an organizer: (tenant id, organizer object id), both lower-cased, then a value
/// compared exactly (a meeting id, an `externalId`, a join URL...).
pub(crate) type Scoped = (String, String, String);

pub(crate) fn scoped(tenant_id: &str, organizer_id: &str, value: &str) -> Scoped {
    (tenant_id.to_ascii_lowercase(), organizer_id.to_ascii_lowercase(), value.to_owned())
}

/// A map that keeps at most `capacity` entries, forgetting the oldest insertion first.
struct Bounded<V> {
    capacity: usize,
    next: u64,
    entries: HashMap<Scoped, (u64, V)>,
    /// Insertion number to key: the first entry is the oldest.
    order: BTreeMap<u64, Scoped>,
}

impl<V> Bounded<V> {
    fn new(capacity: usize) -> Self {
        Bounded { capacity: capacity.max(1), next: 0, entries: HashMap::new(), order: BTreeMap::new() }
    }

    /// Inserts `value`; returns the entries forgotten to make room.
    fn insert(&mut self, key: Scoped, value: V) -> Vec<(Scoped, V)> {
        let seq = self.next;
        self.next += 1;
        if let Some((old, _)) = self.entries.insert(key.clone(), (seq, value)) {
            self.order.remove(&old);
        }
        self.order.insert(seq, key);
        let mut evicted = Vec::new();
        while self.entries.len() > self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else { break };
            if let Some((_, v)) = self.entries.remove(&oldest) {
                evicted.push((oldest, v));
            }
        }
        evicted
    }

    fn get(&self, key: &Scoped) -> Option<&V> {
        self.entries.get(key).map(|(_, v)| v)
    }

    fn get_mut(&mut self, key: &Scoped) -> Option<&mut V> {
        self.entries.get_mut(key).map(|(_, v)| v)
    }

    fn remove(&mut self, key: &Scoped) -> Option<V> {
        let (seq, value) = self.entries.remove(key)?;
        self.order.remove(&seq);
        Some(value)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// A stored meeting: canonical form (every enum member, no per-request annotations).
pub(crate) struct StoredMeeting {
    pub(crate) meeting: Value,
    /// From when `$filter` finds it (creation plus the configured visibility delay).
    pub(crate) visible_at: Instant,
    external_id: Option<String>,
}

/// onlineMeetings by (tenant, organizer, meeting id), with their lookup indexes.
pub(crate) struct MeetingStore {
    meetings: Bounded<StoredMeeting>,
    external_ids: HashMap<Scoped, String>,
    join_web_urls: HashMap<Scoped, String>,
    join_meeting_ids: HashMap<Scoped, String>,
}

impl Default for MeetingStore {
    fn default() -> Self {
        MeetingStore::new(DEFAULT_CAPACITY)
    }
}

/// What a `$filter` on onlineMeetings can look up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MeetingKey {
    JoinWebUrl,
    JoinMeetingId,
}

fn text<'a>(meeting: &'a Value, pointer: &str) -> Option<&'a str> {
    meeting.pointer(pointer).and_then(Value::as_str)
}

impl MeetingStore {
    pub(crate) fn new(capacity: usize) -> Self {
        MeetingStore {
            meetings: Bounded::new(capacity),
            external_ids: HashMap::new(),
            join_web_urls: HashMap::new(),
            join_meeting_ids: HashMap::new(),
        }
    }

    /// Stores a new meeting of `organizer_id` (its `id` is in the JSON), indexed by `externalId`
    /// when given, join URL and join meeting id.
    pub(crate) fn insert(
        &mut self,
        tenant_id: &str,
        organizer_id: &str,
        meeting: Value,
        external_id: Option<String>,
        visible_at: Instant,
    ) {
        let at = |value: &str| scoped(tenant_id, organizer_id, value);
        let id = text(&meeting, "/id").unwrap_or_default().to_owned();
        if let Some(x) = &external_id {
            self.external_ids.insert(at(x), id.clone());
        }
        if let Some(url) = text(&meeting, "/joinWebUrl") {
            self.join_web_urls.insert(at(url), id.clone());
        }
        if let Some(jmid) = text(&meeting, "/joinMeetingIdSettings/joinMeetingId") {
            self.join_meeting_ids.insert(at(jmid), id.clone());
        }
        let evicted = self.meetings.insert(at(&id), StoredMeeting { meeting, visible_at, external_id });
        for (key, stored) in evicted {
            self.unindex(&key, &stored);
        }
    }

    pub(crate) fn get(&self, tenant_id: &str, organizer_id: &str, id: &str) -> Option<&StoredMeeting> {
        self.meetings.get(&scoped(tenant_id, organizer_id, id))
    }

    /// The meeting, to change properties that no index covers.
    pub(crate) fn get_mut(&mut self, tenant_id: &str, organizer_id: &str, id: &str) -> Option<&mut Value> {
        self.meetings.get_mut(&scoped(tenant_id, organizer_id, id)).map(|s| &mut s.meeting)
    }

    pub(crate) fn remove(&mut self, tenant_id: &str, organizer_id: &str, id: &str) -> Option<Value> {
        let key = scoped(tenant_id, organizer_id, id);
        let stored = self.meetings.remove(&key)?;
        self.unindex(&key, &stored);
        Some(stored.meeting)
    }

    /// The meeting `createOrGet` made for this `externalId`.
    pub(crate) fn by_external_id(&self, tenant_id: &str, organizer_id: &str, external_id: &str) -> Option<&Value> {
        let id = self.external_ids.get(&scoped(tenant_id, organizer_id, external_id))?;
        self.get(tenant_id, organizer_id, id).map(|s| &s.meeting)
    }

    /// The organizer's meeting whose join URL or join meeting id is `value`.
    pub(crate) fn find(
        &self,
        tenant_id: &str,
        organizer_id: &str,
        key: MeetingKey,
        value: &str,
    ) -> Option<&StoredMeeting> {
        let index = match key {
            MeetingKey::JoinWebUrl => &self.join_web_urls,
            MeetingKey::JoinMeetingId => &self.join_meeting_ids,
        };
        let id = index.get(&scoped(tenant_id, organizer_id, value))?;
        self.get(tenant_id, organizer_id, id)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.meetings.len()
    }

    fn unindex(&mut self, (tenant, organizer, _): &Scoped, stored: &StoredMeeting) {
        let at = |value: &str| (tenant.clone(), organizer.clone(), value.to_owned());
        if let Some(x) = &stored.external_id {
            self.external_ids.remove(&at(x));
        }
        if let Some(url) = text(&stored.meeting, "/joinWebUrl") {
            self.join_web_urls.remove(&at(url));
        }
        if let Some(jmid) = text(&stored.meeting, "/joinMeetingIdSettings/joinMeetingId") {
            self.join_meeting_ids.remove(&at(jmid));
        }
    }
}
