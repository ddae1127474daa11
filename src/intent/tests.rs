//! One table per intent, each with replies in the six languages, worded as people answer cold
//! email: short, often without a greeting, sometimes with a typo-free but blunt "no". The
//! phrasings follow the reply categories sales tools sort by (Smartlead's and Lemlist's
//! interested / not interested / meeting request / referral / wrong person) and the
//! out-of-office and "left the company" notices of Outlook and Gmail; none is copied from a
//! particular person's mail.

use super::*;

const LEAD: &str = "maria@northwind.example";

fn check(intent: Intent, table: &[(&str, &str)]) {
    for (lang, text) in table {
        let r = read_reply(text, &[LEAD]);
        assert_eq!(r.intent, intent, "{lang}: {text:?} → {r:?}");
        assert!(!r.words.is_empty(), "{lang}: {text:?}: no words");
        assert_eq!(r.language, Some(*lang), "{lang}: {text:?} → {r:?}");
    }
}

#[test]
fn interested_in_six_languages() {
    check(
        Intent::Interested,
        &[
            (
                "en",
                "Thanks Ana, this is interesting. Can you tell me more about pricing?",
            ),
            ("en", "Sounds good - send me more info."),
            (
                "de",
                "Klingt interessant. Schicken Sie mir gerne mehr Informationen.",
            ),
            (
                "fr",
                "Bonjour, ça m'intéresse. Pouvez-vous m'en dire plus sur vos tarifs ?",
            ),
            (
                "es",
                "Hola, me interesa. ¿Me puedes enviar más información?",
            ),
            (
                "pt",
                "Olá, tenho interesse. Pode me enviar mais informações?",
            ),
            (
                "nl",
                "Klinkt goed, ik ben geïnteresseerd. Stuur me meer informatie.",
            ),
        ],
    );
}

#[test]
fn meeting_requests_in_six_languages() {
    check(
        Intent::MeetingRequest,
        &[
            (
                "en",
                "Yes — Tuesday at 10 works for me. Can you send an invite?",
            ),
            ("en", "Happy to chat. Are you free Thursday afternoon?"),
            (
                "de",
                "Gerne, lassen Sie uns einen Termin vereinbaren. Wann passt es Ihnen?",
            ),
            (
                "fr",
                "Volontiers, calons un rendez-vous. Quelles sont vos disponibilités ?",
            ),
            ("es", "Claro, agendemos una llamada la próxima semana."),
            (
                "pt",
                "Vamos marcar uma reunião? Tem disponibilidade na quinta?",
            ),
            (
                "nl",
                "Prima, laten we een afspraak inplannen. Bent u beschikbaar op dinsdag?",
            ),
        ],
    );
}

#[test]
fn not_interested_in_six_languages() {
    check(
        Intent::NotInterested,
        &[
            ("en", "Not interested, thanks."),
            (
                "en",
                "We're all set with our current vendor. We already have a solution.",
            ),
            (
                "en",
                "Thanks, but we're not really interested at the moment.",
            ),
            ("de", "Danke, aber wir haben kein Interesse."),
            ("fr", "Merci, mais nous ne sommes pas intéressés."),
            ("es", "Gracias, pero no nos interesa."),
            ("pt", "Obrigado, mas não temos interesse."),
            ("nl", "Bedankt, maar wij hebben geen interesse."),
        ],
    );
}

#[test]
fn wrong_person_in_six_languages() {
    check(
        Intent::WrongPerson,
        &[
            ("en", "I'm not the right person for this, sorry."),
            ("en", "I no longer work at Northwind."),
            ("de", "Dafür bin ich leider nicht zuständig."),
            ("fr", "Je ne suis pas la bonne personne pour ce sujet."),
            ("es", "Lo siento, no soy la persona indicada para esto."),
            ("pt", "Desculpe, não sou a pessoa certa para isso."),
            ("nl", "Ik ben niet de juiste persoon hiervoor."),
        ],
    );
}

#[test]
fn referrals_in_six_languages_name_the_person() {
    let table: &[(&str, &str, &str, Option<&str>)] = &[
        (
            "en",
            "Please contact jane@northwind.example, she runs purchasing.",
            "jane@northwind.example",
            None,
        ),
        (
            "en",
            "I've left the company; write to tom.b@northwind.example instead.",
            "tom.b@northwind.example",
            None,
        ),
        (
            "en",
            "You should talk to our CTO, Jane Doe <jane.doe@northwind.example>.",
            "jane.doe@northwind.example",
            Some("Jane Doe"),
        ),
        (
            "de",
            "Bitte wenden Sie sich an meinen Kollegen Jan Vogel (jan.vogel@northwind.example).",
            "jan.vogel@northwind.example",
            Some("Jan Vogel"),
        ),
        (
            "fr",
            "Je ne suis pas le bon interlocuteur, merci de contacter paul@northwind.example.",
            "paul@northwind.example",
            None,
        ),
        (
            "es",
            "No soy la persona indicada; contacte a lucia@northwind.example.",
            "lucia@northwind.example",
            None,
        ),
        (
            "pt",
            "Fale com o meu colega joao@northwind.example, ele é o responsável.",
            "joao@northwind.example",
            None,
        ),
        (
            "nl",
            "Neem contact op met mijn collega via pieter@northwind.example.",
            "pieter@northwind.example",
            None,
        ),
    ];
    for (lang, text, email, name) in table {
        let r = read_reply(text, &[LEAD]);
        assert_eq!(r.intent, Intent::Referral, "{lang}: {text:?} → {r:?}");
        assert_eq!(r.language, Some(*lang), "{text:?}");
        assert_eq!(r.referred.len(), 1, "{text:?} → {r:?}");
        assert_eq!(r.referred[0].email, *email, "{text:?}");
        assert_eq!(r.referred[0].name.as_deref(), *name, "{text:?}");
    }
}

#[test]
fn a_referral_names_no_one_it_must_not() {
    // The lead's own address, the rep's, no-reply and shared inboxes are not people to refer.
    let r = read_reply(
        "Please contact support@northwind.example or write to Maria@Northwind.example, \
         or noreply@northwind.example, or ana@ours.example.",
        &[LEAD, "ana@ours.example"],
    );
    assert_eq!(r.intent, Intent::Unclear, "{r:?}");
    assert!(r.referred.is_empty());
    // An address without referral wording is not a referral.
    let r = read_reply("jane@northwind.example", &[LEAD]);
    assert_eq!(r.intent, Intent::Unclear, "{r:?}");
    // Not an address at all.
    let r = read_reply("Please contact jane@localhost or @northwind", &[LEAD]);
    assert!(r.referred.is_empty(), "{r:?}");
}

#[test]
fn negations_are_not_interest() {
    for text in [
        "I'm not interested in a call.",
        "We are not currently interested.",
        "Wir sind nicht interessiert.",
        "No estamos interesados, gracias.",
    ] {
        assert_eq!(
            read_reply(text, &[]).intent,
            Intent::NotInterested,
            "{text}"
        );
    }
    // "No, …" starts a new clause: what follows still counts.
    let r = read_reply("No problem, let's talk next week.", &[]);
    assert_eq!(r.intent, Intent::MeetingRequest, "{r:?}");
}

#[test]
fn nothing_decides_means_unclear() {
    for text in ["Who is this?", "Got it.", "", "   \n"] {
        let r = read_reply(text, &[]);
        assert_eq!(r.intent, Intent::Unclear, "{text:?}");
        assert!(r.words.is_empty());
    }
}

#[test]
fn auto_replies_refer_only_when_they_name_a_replacement() {
    let r = read_auto_reply(
        "Thank you for your email. I have left Northwind. For anything related to purchasing \
         please contact Jane Doe <jane@northwind.example>.",
        &[LEAD],
    )
    .expect("a referral");
    assert_eq!(r.intent, Intent::Referral);
    assert!(r.left);
    assert_eq!(r.referred[0].email, "jane@northwind.example");
    let r = read_auto_reply(
        "Ich bin bis 16. März im Urlaub. In dringenden Fällen wenden Sie sich an meine Kollegin \
         eva@northwind.example.",
        &[LEAD],
    )
    .expect("a referral");
    assert_eq!((r.intent, r.left), (Intent::Referral, false));
    let r = read_auto_reply("Je ne fais plus partie de la société.", &[LEAD]).expect("left");
    assert_eq!((r.intent, r.left), (Intent::WrongPerson, true));
    assert_eq!(
        read_auto_reply(
            "I am out of the office until Monday. For urgent matters contact support@northwind.example.",
            &[LEAD]
        ),
        None
    );
}

#[test]
fn a_copy_of_a_message_below_the_text_names_no_one() {
    // A machine answer that quotes the header of the mail it got: the addresses there are no
    // referral, though the text says "try again".
    let text = "Your mail cannot be delivered. Please check the address and then try again.\n\n\
                ---- Header of the source mail attached ----\n\n\
                Received: from mx.example.net by mail.example.org\n\tfor <userz@example.net>\n\
                To: python-list@python.org\n";
    assert_eq!(read_auto_reply(text, &[]), None);
    assert!(read_reply(text, &[]).referred.is_empty());
    // Without the dashes, the first header line ends the text just the same.
    let text = "Please contact jane@acme.example.\nReceived: from x\n\tfor <bob@acme.example>\n";
    let r = read_reply(text, &[]);
    let named: Vec<&str> = r.referred.iter().map(|p| p.email.as_str()).collect();
    assert_eq!(named, ["jane@acme.example"]);
}

#[test]
fn any_text_reads_without_panic() {
    for text in [
        "@",
        "@@@",
        "a@b",
        "<@>",
        "<<jane@x.example",
        "ü@ö.de (",
        "\u{2019}\u{2019}",
        "not",
        "contact \u{0}@x.example",
        "é".repeat(9_000).as_str(),
    ] {
        let _ = read_reply(text, &[]);
        let _ = read_auto_reply(text, &[]);
    }
}

mod props {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_text_reads_without_panic(text in "\\PC{0,400}") {
            let _ = super::read_reply(&text, &["a@b.example"]);
            let _ = super::read_auto_reply(&text, &[]);
        }
    }
}
