//! The domain: office-hour slots published by officials, and citizens' bookings of them.

use serde::{Deserialize, Serialize};

/// Where a slot takes place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Venue {
    /// A place (town hall, room…).
    Place(String),
    /// A video call (`https` link).
    Video(String),
}

/// An office-hour slot: one official, one time, a few seats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// Start, Unix seconds.
    pub starts_at: i64,
    /// Length in minutes.
    pub duration_min: u32,
    /// Where.
    pub venue: Venue,
    /// How many citizens can book it (1–50).
    pub capacity: u32,
    /// The topic (title).
    pub topic: String,
    /// Optional details.
    pub description: String,
    /// Who holds it (display name when published).
    pub host_name: String,
    /// The publishing account.
    pub host_account: String,
    /// Cancelled by the commune.
    pub cancelled: bool,
    /// Why, when cancelled (told to the booked citizens).
    #[serde(default)]
    pub cancel_reason: Option<String>,
}

impl Slot {
    /// End, Unix seconds.
    pub fn ends_at(&self) -> i64 {
        self.starts_at + i64::from(self.duration_min) * 60
    }

    /// Still to come at `now`.
    pub fn is_upcoming(&self, now: i64) -> bool {
        self.starts_at > now
    }

    /// Open to bookings at `now` (seats aside).
    pub fn is_open(&self, now: i64) -> bool {
        !self.cancelled && self.is_upcoming(now)
    }
}

/// A booking's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    /// Booked, holding a seat.
    Confirmed,
    /// The commune cancelled the slot.
    SlotCancelled,
}

/// One citizen's seat in one slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    /// The slot's key.
    pub slot: String,
    /// The booker's account.
    pub account: String,
    /// The booker's display name when booking.
    pub name: String,
    /// What the citizen wants to talk about.
    pub subject: String,
    /// The seat number held (`{slot}:seat:{n}`).
    pub seat: u32,
    /// When booked, Unix seconds.
    pub booked_at: i64,
    /// Confirmed, or cancelled with its slot.
    pub status: BookingStatus,
    /// The reminder was sent (or not needed: booked less than a day before).
    pub reminded: bool,
    /// The calendar UID, kept when the appointment is moved to another slot.
    pub uid: String,
    /// The calendar SEQUENCE, bumped at each move or cancellation.
    pub sequence: u32,
}

/// A seat document: its key is the lock that stops overbooking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seat {
    /// The booking holding it.
    pub booking: String,
}

/// A reminder still to send; its key starts with the slot's key, so reminders sort by start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    /// The booking to remind.
    pub booking: String,
    /// The slot's start, Unix seconds.
    pub starts_at: i64,
}

/// Bookings made less than this before the start get no separate reminder: the confirmation
/// e-mail, sent minutes before, already is one.
pub const REMINDER_WINDOW: i64 = 24 * 3600;

/// Largest capacity of a slot.
pub const MAX_CAPACITY: u32 = 50;

/// Longest subject of a booking, in characters.
pub const MAX_SUBJECT: usize = 500;

/// The key of a new slot: the UTC start to the minute, then random hex, so keys sort by start.
pub fn slot_key(starts_at: i64, random: &[u8]) -> String {
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", crate::time::key_stamp(starts_at))
}

/// The key of the `n`th seat of a slot.
pub fn seat_key(slot: &str, n: u32) -> String {
    format!("{slot}:seat:{n}")
}

/// The key of a booking's pending reminder.
pub fn reminder_key(slot: &str, booking: &str) -> String {
    format!("{slot}:{booking}")
}

/// The value that makes (slot, account) unique among bookings.
pub fn booker_of_slot(slot: &str, account: &str) -> String {
    format!("{slot}/{account}")
}

/// True for an id this module could have made (slot keys, UUIDs): anything else in a URL is a
/// page that does not exist, and never reaches the storage.
pub fn is_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_keys_sort_by_start() {
        let early = slot_key(1_784_116_800, &[0xff, 0xff]);
        let late = slot_key(1_784_116_860, &[0x00, 0x00]);
        assert_eq!(early, "20260715T1200Z-ffff");
        assert!(early < late);
        assert!(is_id(&early));
        assert!(reminder_key(&early, "b") < reminder_key(&late, "a"));
    }

    #[test]
    fn ids_are_plain() {
        assert!(is_id("0198c0de-1234-7abc-8def-0123456789ab"));
        for bad in ["", "a/b", "a b", "x:seat:1", &"a".repeat(65)] {
            assert!(!is_id(bad), "{bad}");
        }
    }

    #[test]
    fn venue_round_trips_as_json() {
        let venue = Venue::Video("https://visio.example/a".into());
        let json = serde_json::to_string(&venue).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"kind":"video","value":"https://visio.example/a"}"#
        );
        assert_eq!(serde_json::from_str::<Venue>(&json).ok(), Some(venue));
    }
}
