//! Time zones as Graph's calendar takes them. Graph accepts every Windows time-zone id in an
//! event's `{dateTime, timeZone}`, but only a listed subset of IANA names (others are answered
//! `TimeZoneNotSupportedException`), so an event's IANA zone is sent as a Windows id: the one
//! CLDR maps it to, or else one whose rules give the same wall-clock times around the event.
//! The table is CLDR's `windowsZones.xml` (territory `001`, current IANA spellings).

use jiff::{tz::TimeZone, SignedDuration, Timestamp};

/// Windows zone id -> the IANA zone CLDR maps it to.
#[rustfmt::skip]
const WINDOWS: &[(&str, &str)] = &[
    ("Dateline Standard Time", "Etc/GMT+12"), ("UTC-11", "Etc/GMT+11"), ("Aleutian Standard Time", "America/Adak"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"), ("Marquesas Standard Time", "Pacific/Marquesas"),
    ("Alaskan Standard Time", "America/Anchorage"), ("UTC-09", "Etc/GMT+9"),
    ("Pacific Standard Time (Mexico)", "America/Tijuana"), ("UTC-08", "Etc/GMT+8"),
    ("Pacific Standard Time", "America/Los_Angeles"), ("US Mountain Standard Time", "America/Phoenix"),
    ("Mountain Standard Time (Mexico)", "America/Mazatlan"), ("Mountain Standard Time", "America/Denver"),
    ("Yukon Standard Time", "America/Whitehorse"), ("Central America Standard Time", "America/Guatemala"),
    ("Central Standard Time", "America/Chicago"), ("Easter Island Standard Time", "Pacific/Easter"),
    ("Central Standard Time (Mexico)", "America/Mexico_City"), ("Canada Central Standard Time", "America/Regina"),
    ("SA Pacific Standard Time", "America/Bogota"), ("Eastern Standard Time (Mexico)", "America/Cancun"),
    ("Eastern Standard Time", "America/New_York"), ("Haiti Standard Time", "America/Port-au-Prince"),
    ("Cuba Standard Time", "America/Havana"), ("US Eastern Standard Time", "America/Indiana/Indianapolis"),
    ("Turks And Caicos Standard Time", "America/Grand_Turk"), ("Paraguay Standard Time", "America/Asuncion"),
    ("Atlantic Standard Time", "America/Halifax"), ("Venezuela Standard Time", "America/Caracas"),
    ("Central Brazilian Standard Time", "America/Cuiaba"), ("SA Western Standard Time", "America/La_Paz"),
    ("Pacific SA Standard Time", "America/Santiago"), ("Newfoundland Standard Time", "America/St_Johns"),
    ("Tocantins Standard Time", "America/Araguaina"), ("E. South America Standard Time", "America/Sao_Paulo"),
    ("SA Eastern Standard Time", "America/Cayenne"), ("Argentina Standard Time", "America/Argentina/Buenos_Aires"),
    ("Greenland Standard Time", "America/Nuuk"), ("Montevideo Standard Time", "America/Montevideo"),
    ("Magallanes Standard Time", "America/Punta_Arenas"), ("Saint Pierre Standard Time", "America/Miquelon"),
    ("Bahia Standard Time", "America/Bahia"), ("UTC-02", "Etc/GMT+2"), ("Azores Standard Time", "Atlantic/Azores"),
    ("Cape Verde Standard Time", "Atlantic/Cape_Verde"), ("UTC", "Etc/UTC"), ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"), ("Sao Tome Standard Time", "Africa/Sao_Tome"),
    ("Morocco Standard Time", "Africa/Casablanca"), ("W. Europe Standard Time", "Europe/Berlin"),
    ("Central Europe Standard Time", "Europe/Budapest"), ("Romance Standard Time", "Europe/Paris"),
    ("Central European Standard Time", "Europe/Warsaw"), ("W. Central Africa Standard Time", "Africa/Lagos"),
    ("Jordan Standard Time", "Asia/Amman"), ("GTB Standard Time", "Europe/Bucharest"),
    ("Middle East Standard Time", "Asia/Beirut"), ("Egypt Standard Time", "Africa/Cairo"),
    ("E. Europe Standard Time", "Europe/Chisinau"), ("Syria Standard Time", "Asia/Damascus"),
    ("West Bank Standard Time", "Asia/Hebron"), ("South Africa Standard Time", "Africa/Johannesburg"),
    ("FLE Standard Time", "Europe/Kyiv"), ("Israel Standard Time", "Asia/Jerusalem"),
    ("South Sudan Standard Time", "Africa/Juba"), ("Kaliningrad Standard Time", "Europe/Kaliningrad"),
    ("Sudan Standard Time", "Africa/Khartoum"), ("Libya Standard Time", "Africa/Tripoli"),
    ("Namibia Standard Time", "Africa/Windhoek"), ("Arabic Standard Time", "Asia/Baghdad"),
    ("Turkey Standard Time", "Europe/Istanbul"), ("Arab Standard Time", "Asia/Riyadh"),
    ("Belarus Standard Time", "Europe/Minsk"), ("Russian Standard Time", "Europe/Moscow"),
    ("E. Africa Standard Time", "Africa/Nairobi"), ("Iran Standard Time", "Asia/Tehran"),
    ("Arabian Standard Time", "Asia/Dubai"), ("Astrakhan Standard Time", "Europe/Astrakhan"),
    ("Azerbaijan Standard Time", "Asia/Baku"), ("Russia Time Zone 3", "Europe/Samara"),
    ("Mauritius Standard Time", "Indian/Mauritius"), ("Saratov Standard Time", "Europe/Saratov"),
    ("Georgian Standard Time", "Asia/Tbilisi"), ("Volgograd Standard Time", "Europe/Volgograd"),
    ("Caucasus Standard Time", "Asia/Yerevan"), ("Afghanistan Standard Time", "Asia/Kabul"),
    ("West Asia Standard Time", "Asia/Tashkent"), ("Ekaterinburg Standard Time", "Asia/Yekaterinburg"),
    ("Pakistan Standard Time", "Asia/Karachi"), ("Qyzylorda Standard Time", "Asia/Qyzylorda"),
    ("India Standard Time", "Asia/Kolkata"), ("Sri Lanka Standard Time", "Asia/Colombo"),
    ("Nepal Standard Time", "Asia/Kathmandu"), ("Central Asia Standard Time", "Asia/Bishkek"),
    ("Bangladesh Standard Time", "Asia/Dhaka"), ("Omsk Standard Time", "Asia/Omsk"),
    ("Myanmar Standard Time", "Asia/Yangon"), ("SE Asia Standard Time", "Asia/Bangkok"),
    ("Altai Standard Time", "Asia/Barnaul"), ("W. Mongolia Standard Time", "Asia/Hovd"),
    ("North Asia Standard Time", "Asia/Krasnoyarsk"), ("N. Central Asia Standard Time", "Asia/Novosibirsk"),
    ("Tomsk Standard Time", "Asia/Tomsk"), ("China Standard Time", "Asia/Shanghai"),
    ("North Asia East Standard Time", "Asia/Irkutsk"), ("Singapore Standard Time", "Asia/Singapore"),
    ("W. Australia Standard Time", "Australia/Perth"), ("Taipei Standard Time", "Asia/Taipei"),
    ("Ulaanbaatar Standard Time", "Asia/Ulaanbaatar"), ("Aus Central W. Standard Time", "Australia/Eucla"),
    ("Transbaikal Standard Time", "Asia/Chita"), ("Tokyo Standard Time", "Asia/Tokyo"),
    ("North Korea Standard Time", "Asia/Pyongyang"), ("Korea Standard Time", "Asia/Seoul"),
    ("Yakutsk Standard Time", "Asia/Yakutsk"), ("Cen. Australia Standard Time", "Australia/Adelaide"),
    ("AUS Central Standard Time", "Australia/Darwin"), ("E. Australia Standard Time", "Australia/Brisbane"),
    ("AUS Eastern Standard Time", "Australia/Sydney"), ("West Pacific Standard Time", "Pacific/Port_Moresby"),
    ("Tasmania Standard Time", "Australia/Hobart"), ("Vladivostok Standard Time", "Asia/Vladivostok"),
    ("Lord Howe Standard Time", "Australia/Lord_Howe"), ("Bougainville Standard Time", "Pacific/Bougainville"),
    ("Russia Time Zone 10", "Asia/Srednekolymsk"), ("Magadan Standard Time", "Asia/Magadan"),
    ("Norfolk Standard Time", "Pacific/Norfolk"), ("Sakhalin Standard Time", "Asia/Sakhalin"),
    ("Central Pacific Standard Time", "Pacific/Guadalcanal"), ("Russia Time Zone 11", "Asia/Kamchatka"),
    ("New Zealand Standard Time", "Pacific/Auckland"), ("UTC+12", "Etc/GMT-12"), ("Fiji Standard Time", "Pacific/Fiji"),
    ("Chatham Islands Standard Time", "Pacific/Chatham"), ("UTC+13", "Etc/GMT-13"),
    ("Tonga Standard Time", "Pacific/Tongatapu"), ("Samoa Standard Time", "Pacific/Apia"),
    ("Line Islands Standard Time", "Pacific/Kiritimati"),
];

/// The Windows id to send for `zone` (an IANA name) so that an event from `start` to `end`
/// shows the same wall-clock times: CLDR's id for that zone, or the first id whose zone has
/// the same UTC offsets at the start, the end, and half a year on (the DST rules); `None` when
/// no Windows zone keeps its time.
pub fn windows_id(zone_name: &str, zone: &TimeZone, start: Timestamp, end: Timestamp) -> Option<&'static str> {
    if zone_name.eq_ignore_ascii_case("UTC") || zone_name.eq_ignore_ascii_case("Etc/UTC") {
        return Some("UTC");
    }
    if let Some((windows, _)) = WINDOWS.iter().find(|(_, iana)| iana.eq_ignore_ascii_case(zone_name)) {
        return Some(windows);
    }
    let half_year = SignedDuration::from_hours(24 * 182);
    let probes = [start, end, start.checked_add(half_year).unwrap_or(start)];
    let offsets = |z: &TimeZone| probes.map(|t| z.to_offset(t));
    let wanted = offsets(zone);
    WINDOWS
        .iter()
        .find(|(_, iana)| TimeZone::get(iana).is_ok_and(|candidate| offsets(&candidate) == wanted))
        .map(|(windows, _)| *windows)
}

/// The zone of a `timeZone` Graph sent: a Windows id or an IANA name.
pub fn zone_of(name: &str) -> Option<TimeZone> {
    let name = name.trim();
    match WINDOWS.iter().find(|(windows, _)| windows.eq_ignore_ascii_case(name)) {
        Some((_, iana)) => TimeZone::get(iana).ok(),
        None => TimeZone::get(name).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn iana_zones_become_windows_ids_that_keep_their_time() {
        let (start, end) = (at("2030-03-31T00:30:00Z"), at("2030-03-31T01:30:00Z"));
        let id = |name: &str| windows_id(name, &TimeZone::get(name).unwrap(), start, end);
        assert_eq!(id("Europe/Berlin"), Some("W. Europe Standard Time"));
        assert_eq!(id("America/New_York"), Some("Eastern Standard Time"));
        assert_eq!(id("UTC"), Some("UTC"));
        // Not CLDR's representative: a zone with the same rules around the event.
        let madrid = id("Europe/Madrid").unwrap();
        let same = |t: Timestamp| {
            zone_of(madrid).unwrap().to_offset(t) == TimeZone::get("Europe/Madrid").unwrap().to_offset(t)
        };
        assert!(same(start) && same(end), "{madrid}");
        assert_eq!(zone_of("W. Europe Standard Time").unwrap().iana_name(), Some("Europe/Berlin"));
        assert!(zone_of("Asia/Tokyo").is_some());
        assert!(zone_of("Mars Standard Time").is_none());
    }
}
