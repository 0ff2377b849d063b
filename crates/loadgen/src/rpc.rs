//! The RPCs the benchmark measures (`Create`, `Get`, `Update`): the typical request of each,
//! the gRPC call and what counts as its success, and the Graph request each one makes (its
//! method and the status Graph answers it with), which the baseline replays.

use meeting_emulator::DEV_USER_ID;
use meeting_service::grpc::pb::{self, meeting_service_client::MeetingServiceClient};
use tonic::transport::Channel;

/// An RPC of `meetings.v1.MeetingService` under load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rpc {
    Create,
    Get,
    Update,
}

impl Rpc {
    pub(crate) const ALL: [Rpc; 3] = [Rpc::Create, Rpc::Get, Rpc::Update];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Rpc::Create => "Create",
            Rpc::Get => "Get",
            Rpc::Update => "Update",
        }
    }

    /// The method of the one Graph request the RPC makes (`POST …/onlineMeetings`,
    /// `GET …/onlineMeetings/{id}`, `PATCH …/onlineMeetings/{id}`).
    pub(crate) fn graph_method(self) -> reqwest::Method {
        match self {
            Rpc::Create => reqwest::Method::POST,
            Rpc::Get => reqwest::Method::GET,
            Rpc::Update => reqwest::Method::PATCH,
        }
    }

    /// Graph's status for a success: 201 Created for a create, 200 with the meeting otherwise.
    pub(crate) fn graph_success(self) -> u16 {
        match self {
            Rpc::Create => 201,
            Rpc::Get | Rpc::Update => 200,
        }
    }

    /// Whether the RPC needs meetings that exist (created before the measured window).
    pub(crate) fn reads_meetings(self) -> bool {
        self != Rpc::Create
    }
}

/// The requests a service scenario cycles through: one RPC, for each tenant and (Get, Update)
/// each of its meetings.
pub(crate) enum Requests {
    Create(Vec<pb::CreateRequest>),
    Get(Vec<pb::GetRequest>),
    Update(Vec<pb::UpdateRequest>),
}

impl Requests {
    /// `rpc`'s requests: for every tenant, one Create, or one Get or Update per meeting of that
    /// tenant (`meetings[i]` are the ids of `tenant_ids[i]`'s meetings), tenants interleaved so
    /// that consecutive requests go to different tenants.
    pub(crate) fn new(rpc: Rpc, tenant_ids: &[&str], meetings: &[Vec<String>]) -> Requests {
        let pairs = || {
            let most = meetings.iter().map(Vec::len).max().unwrap_or(0);
            (0..most).flat_map(move |m| {
                tenant_ids.iter().zip(meetings).filter_map(move |(t, ids)| ids.get(m).map(|id| (*t, id.as_str())))
            })
        };
        match rpc {
            Rpc::Create => Requests::Create(tenant_ids.iter().map(|t| create_request(t)).collect()),
            Rpc::Get => Requests::Get(pairs().map(|(t, id)| get_request(t, id)).collect()),
            Rpc::Update => Requests::Update(pairs().map(|(t, id)| update_request(t, id)).collect()),
        }
    }

    pub(crate) fn rpc(&self) -> Rpc {
        match self {
            Requests::Create(_) => Rpc::Create,
            Requests::Get(_) => Rpc::Get,
            Requests::Update(_) => Rpc::Update,
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Requests::Create(r) => r.len(),
            Requests::Get(r) => r.len(),
            Requests::Update(r) => r.len(),
        }
    }

    /// Request number `seq` (cycling) on `channel`; `Err` names the gRPC code, or a reply
    /// without a meeting.
    pub(crate) async fn call(&self, channel: Channel, seq: u64) -> Result<(), String> {
        let i = (seq % self.len().max(1) as u64) as usize;
        let mut client = MeetingServiceClient::new(channel);
        let meeting = match self {
            Requests::Create(r) => client.create(r[i].clone()).await.map(|reply| reply.into_inner().meeting),
            Requests::Get(r) => client.get(r[i].clone()).await.map(|reply| reply.into_inner().meeting),
            Requests::Update(r) => client.update(r[i].clone()).await.map(|reply| reply.into_inner().meeting),
        };
        match meeting {
            Ok(Some(m)) if m.id.is_some() => Ok(()),
            Ok(_) => Err("reply without a meeting".into()),
            Err(status) => Err(format!("{:?}", status.code())),
        }
    }
}

fn timestamp(s: &str) -> prost_types::Timestamp {
    s.parse().expect("timestamp")
}

/// A typical Create: subject, times, presenters, lobby and one attendee.
pub(crate) fn create_request(tenant_id: &str) -> pb::CreateRequest {
    let attendee = pb::MeetingParticipantInfo {
        upn: Some("megan.bowen@contoso.example".into()),
        role: pb::OnlineMeetingRole::Attendee as i32,
        ..Default::default()
    };
    pb::CreateRequest {
        tenant_id: tenant_id.to_owned(),
        user_id: DEV_USER_ID.to_owned(),
        meeting: Some(Box::new(pb::OnlineMeeting {
            subject: Some("Quarterly planning review".into()),
            start_date_time: Some(timestamp("2030-01-15T15:00:00Z")),
            end_date_time: Some(timestamp("2030-01-15T16:00:00Z")),
            allowed_presenters: pb::OnlineMeetingPresenters::Organization as i32,
            lobby_bypass_settings: Some(pb::LobbyBypassSettings {
                scope: pb::LobbyBypassScope::Organization as i32,
                is_dial_in_bypass_enabled: Some(false),
            }),
            participants: Some(pb::MeetingParticipants { attendees: vec![attendee], ..Default::default() }),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// A Get of one meeting of the Create's organizer.
pub(crate) fn get_request(tenant_id: &str, meeting_id: &str) -> pb::GetRequest {
    pb::GetRequest {
        tenant_id: tenant_id.to_owned(),
        user_id: DEV_USER_ID.to_owned(),
        meeting_id: meeting_id.to_owned(),
        ..Default::default()
    }
}

/// A typical Update: the meeting rescheduled and renamed (subject, start and end: Graph takes
/// the times only together).
pub(crate) fn update_request(tenant_id: &str, meeting_id: &str) -> pb::UpdateRequest {
    pb::UpdateRequest {
        tenant_id: tenant_id.to_owned(),
        user_id: DEV_USER_ID.to_owned(),
        meeting_id: meeting_id.to_owned(),
        meeting: Some(Box::new(pb::OnlineMeeting {
            subject: Some("Quarterly planning review (moved)".into()),
            start_date_time: Some(timestamp("2030-01-16T09:30:00Z")),
            end_date_time: Some(timestamp("2030-01-16T10:30:00Z")),
            ..Default::default()
        })),
        update_mask: Some(prost_types::FieldMask {
            paths: ["subject", "start_date_time", "end_date_time"].map(String::from).to_vec(),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_interleave_tenants_and_cover_every_meeting() {
        let meetings = vec![vec!["a1".to_owned(), "a2".to_owned()], vec!["b1".to_owned()]];
        let Requests::Get(gets) = Requests::new(Rpc::Get, &["ta", "tb"], &meetings) else {
            panic!("Get requests expected")
        };
        let pairs: Vec<(&str, &str)> = gets.iter().map(|g| (g.tenant_id.as_str(), g.meeting_id.as_str())).collect();
        assert_eq!(pairs, [("ta", "a1"), ("tb", "b1"), ("ta", "a2")]);

        let Requests::Update(updates) = Requests::new(Rpc::Update, &["ta", "tb"], &meetings) else {
            panic!("Update requests expected")
        };
        assert_eq!(updates.len(), 3);
        let mask = updates[0].update_mask.as_ref().map(|m| m.paths.join(","));
        assert_eq!(mask.as_deref(), Some("subject,start_date_time,end_date_time"), "times go together");
        assert_eq!(Requests::new(Rpc::Create, &["ta", "tb"], &[]).len(), 2, "a Create per tenant");
    }

    #[test]
    fn each_rpc_names_its_graph_request() {
        let wire: Vec<(&str, String, u16)> =
            Rpc::ALL.iter().map(|r| (r.name(), r.graph_method().to_string(), r.graph_success())).collect();
        assert_eq!(wire, [("Create", "POST".into(), 201), ("Get", "GET".into(), 200), ("Update", "PATCH".into(), 200)]);
        assert!(!Rpc::Create.reads_meetings() && Rpc::Get.reads_meetings() && Rpc::Update.reads_meetings());
    }
}
