//! Time-zone names as Graph's calendar accepts them in `dateTimeTimeZone.timeZone`: the Windows
//! zone ids, and the IANA names Graph's `dateTimeTimeZone` page lists (nothing else: Graph answers
//! `TimeZoneNotSupportedException` for other names, e.g. `Europe/Madrid` or `Greenwich Mean
//! Time`). Each name resolves to an IANA zone of the bundled tz database, Windows ids through
//! CLDR's `windowsZones.xml` (territory `001`). Names are matched without regard to case.

use jiff::{civil::DateTime, tz::TimeZone, Timestamp};
use time::OffsetDateTime;

/// Windows zone id -> IANA zone (CLDR windowsZones, territory 001; current IANA spellings).
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

/// The IANA names Graph's `dateTimeTimeZone` page lists besides Windows ids, with the zone each
/// means where the page's spelling is not a tz database name (`Asia/Toshkent`, `Asia/Astana`) or
/// is an old alias (the page gives `Europe/Kyiv (Kiev)`, `Asia/Yangon (Rangoon)`...).
#[rustfmt::skip]
const IANA: &[(&str, &str)] = &[
    ("Etc/GMT+12", "Etc/GMT+12"), ("Etc/GMT+11", "Etc/GMT+11"), ("Pacific/Honolulu", "Pacific/Honolulu"),
    ("America/Anchorage", "America/Anchorage"), ("America/Santa_Isabel", "America/Tijuana"),
    ("America/Los_Angeles", "America/Los_Angeles"), ("America/Phoenix", "America/Phoenix"),
    ("America/Chihuahua", "America/Chihuahua"), ("America/Denver", "America/Denver"),
    ("America/Guatemala", "America/Guatemala"), ("America/Chicago", "America/Chicago"),
    ("America/Mexico_City", "America/Mexico_City"), ("America/Regina", "America/Regina"),
    ("America/Bogota", "America/Bogota"), ("America/New_York", "America/New_York"),
    ("America/Indiana/Indianapolis", "America/Indiana/Indianapolis"), ("America/Caracas", "America/Caracas"),
    ("America/Asuncion", "America/Asuncion"), ("America/Halifax", "America/Halifax"), ("America/Cuiaba", "America/Cuiaba"),
    ("America/La_Paz", "America/La_Paz"), ("America/Santiago", "America/Santiago"), ("America/St_Johns", "America/St_Johns"),
    ("America/Sao_Paulo", "America/Sao_Paulo"), ("America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"),
    ("America/Cayenne", "America/Cayenne"), ("America/Godthab", "America/Nuuk"), ("America/Montevideo", "America/Montevideo"),
    ("America/Bahia", "America/Bahia"), ("Etc/GMT+2", "Etc/GMT+2"), ("Atlantic/Azores", "Atlantic/Azores"),
    ("Atlantic/Cape_Verde", "Atlantic/Cape_Verde"), ("Africa/Casablanca", "Africa/Casablanca"), ("Etc/GMT", "Etc/GMT"),
    ("Europe/London", "Europe/London"), ("Atlantic/Reykjavik", "Atlantic/Reykjavik"), ("Europe/Berlin", "Europe/Berlin"),
    ("Europe/Budapest", "Europe/Budapest"), ("Europe/Paris", "Europe/Paris"), ("Europe/Warsaw", "Europe/Warsaw"),
    ("Africa/Lagos", "Africa/Lagos"), ("Africa/Windhoek", "Africa/Windhoek"), ("Europe/Bucharest", "Europe/Bucharest"),
    ("Asia/Beirut", "Asia/Beirut"), ("Africa/Cairo", "Africa/Cairo"), ("Asia/Damascus", "Asia/Damascus"),
    ("Africa/Johannesburg", "Africa/Johannesburg"), ("Europe/Kyiv", "Europe/Kyiv"), ("Europe/Kiev", "Europe/Kyiv"),
    ("Europe/Istanbul", "Europe/Istanbul"), ("Asia/Jerusalem", "Asia/Jerusalem"), ("Asia/Amman", "Asia/Amman"),
    ("Asia/Baghdad", "Asia/Baghdad"), ("Europe/Kaliningrad", "Europe/Kaliningrad"), ("Asia/Riyadh", "Asia/Riyadh"),
    ("Africa/Nairobi", "Africa/Nairobi"), ("Asia/Tehran", "Asia/Tehran"), ("Asia/Dubai", "Asia/Dubai"),
    ("Asia/Baku", "Asia/Baku"), ("Europe/Moscow", "Europe/Moscow"), ("Indian/Mauritius", "Indian/Mauritius"),
    ("Asia/Tbilisi", "Asia/Tbilisi"), ("Asia/Yerevan", "Asia/Yerevan"), ("Asia/Kabul", "Asia/Kabul"),
    ("Asia/Karachi", "Asia/Karachi"), ("Asia/Toshkent", "Asia/Tashkent"), ("Asia/Tashkent", "Asia/Tashkent"),
    ("Asia/Kolkata", "Asia/Kolkata"), ("Asia/Colombo", "Asia/Colombo"), ("Asia/Kathmandu", "Asia/Kathmandu"),
    ("Asia/Astana", "Asia/Almaty"), ("Asia/Almaty", "Asia/Almaty"), ("Asia/Dhaka", "Asia/Dhaka"),
    ("Asia/Yekaterinburg", "Asia/Yekaterinburg"), ("Asia/Yangon", "Asia/Yangon"), ("Asia/Rangoon", "Asia/Yangon"),
    ("Asia/Bangkok", "Asia/Bangkok"), ("Asia/Novosibirsk", "Asia/Novosibirsk"), ("Asia/Shanghai", "Asia/Shanghai"),
    ("Asia/Krasnoyarsk", "Asia/Krasnoyarsk"), ("Asia/Singapore", "Asia/Singapore"), ("Australia/Perth", "Australia/Perth"),
    ("Asia/Taipei", "Asia/Taipei"), ("Asia/Ulaanbaatar", "Asia/Ulaanbaatar"), ("Asia/Irkutsk", "Asia/Irkutsk"),
    ("Asia/Tokyo", "Asia/Tokyo"), ("Asia/Seoul", "Asia/Seoul"), ("Australia/Adelaide", "Australia/Adelaide"),
    ("Australia/Darwin", "Australia/Darwin"), ("Australia/Brisbane", "Australia/Brisbane"),
    ("Australia/Sydney", "Australia/Sydney"), ("Pacific/Port_Moresby", "Pacific/Port_Moresby"),
    ("Australia/Hobart", "Australia/Hobart"), ("Asia/Yakutsk", "Asia/Yakutsk"), ("Pacific/Guadalcanal", "Pacific/Guadalcanal"),
    ("Asia/Vladivostok", "Asia/Vladivostok"), ("Pacific/Auckland", "Pacific/Auckland"), ("Etc/GMT-12", "Etc/GMT-12"),
    ("Pacific/Fiji", "Pacific/Fiji"), ("Asia/Magadan", "Asia/Magadan"), ("Pacific/Tongatapu", "Pacific/Tongatapu"),
    ("Pacific/Apia", "Pacific/Apia"), ("Pacific/Kiritimati", "Pacific/Kiritimati"),
];

/// The tz database zone a Graph time-zone name stands for; `None` when Graph does not accept it.
pub(crate) fn resolve(name: &str) -> Option<TimeZone> {
    let (_, iana) = WINDOWS.iter().chain(IANA).find(|(graph, _)| graph.eq_ignore_ascii_case(name.trim()))?;
    TimeZone::get(iana).ok()
}

/// The instant a Graph `dateTime` (local wall-clock time, `YYYY-MM-DDTHH:MM:SS[.fffffff]`) means
/// in `zone`. A time skipped by a DST change moves forward, a repeated one takes the earlier
/// instant (as Windows does). `None`: not such a literal.
pub(crate) fn instant(date_time: &str, zone: &TimeZone) -> Option<OffsetDateTime> {
    let local: DateTime = date_time.trim().parse().ok()?;
    let nanos = zone.to_zoned(local).ok()?.timestamp().as_nanosecond();
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// `t` as Graph writes a `dateTime` in `zone`: local time, seven fractional digits, no offset.
pub(crate) fn local(t: OffsetDateTime, zone: &TimeZone) -> String {
    let at = Timestamp::from_nanosecond(t.unix_timestamp_nanos()).unwrap_or(Timestamp::UNIX_EPOCH);
    let d = at.to_zoned(zone.clone()).datetime();
    let (y, mo, day, h, mi, s) = (d.year(), d.month(), d.day(), d.hour(), d.minute(), d.second());
    format!("{y:04}-{mo:02}-{day:02}T{h:02}:{mi:02}:{s:02}.{:07}", d.subsec_nanosecond() / 100)
}

#[cfg(test)]
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    WINDOWS.iter().chain(IANA).map(|(name, _)| *name)
}
