//! The words the classifier reads, per language (English, German, French, Spanish,
//! Portuguese, Dutch): bounce and out-of-office wording, unsubscribe and "later" phrases,
//! month, week-day and number names. Kept apart from the rules so adding a language or a
//! server's wording is an edit here only. Phrases are lowercase unless noted.

mod asks;
mod bounce;
mod dates;
mod out_of_office;

pub(super) use asks::{LATER_ALONE, LATER_ASKS, LATER_CONTEXT, UNSUBSCRIBE};
pub(super) use bounce::{
    BOUNCE_BODIES, BOUNCE_SENDER_NAMES, BOUNCE_SENDERS, BOUNCE_SUBJECTS, FAILURE_WORDS,
    SUCCESS_SUBJECTS,
};
pub(super) use dates::{MONTHS, NUMBER_WORDS, PT_WEEKDAYS, RETURN_WORDS, THROUGH_WORDS, WEEKDAYS};
pub(super) use out_of_office::{OOF_BODIES, OOF_SUBJECTS};
