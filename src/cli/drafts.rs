//! `drumbeat drafts` and `drumbeat draft show|edit|send|skip ID`: the email steps with
//! `review:` that wait for the rep. A draft can also be sent from the rep's own mail client
//! (the daemon put it in the mailbox's Drafts folder); the watcher sees it in Sent.

use std::path::Path;

use super::output::{print_json, utc};
use super::{Failure, Outcome, load_catalog, load_config, now, open_store};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::context::next_after_done;
use crate::plan::Done;
use crate::send::compose::{Draft, EditedText, compose_with};
use crate::store::{DraftChange, DraftRow, EnrollmentId, LeadId, Store};

/// Flags of `drafts`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only this mailbox's drafts.
    #[arg(long, value_name = "NAME")]
    mailbox: Option<String>,
    /// Also drafts already sent or skipped.
    #[arg(long)]
    all: bool,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

/// `draft show|edit|send|skip`.
#[derive(Debug, clap::Subcommand)]
pub enum DraftCommand {
    /// Print a draft: its headers and text.
    Show(IdArgs),
    /// Edit a draft's subject and text in $EDITOR (the HTML part, if any, is dropped).
    Edit(IdArgs),
    /// Approve a draft: the daemon sends it at its next tick, inside the send window, and
    /// the lead moves on.
    Send(IdArgs),
    /// Skip a draft's step: nothing is sent, the lead moves on.
    Skip(IdArgs),
}

/// The draft a subcommand acts on.
#[derive(Debug, clap::Args)]
pub struct IdArgs {
    /// The draft id (from `drumbeat drafts`).
    id: i64,
}

pub async fn list(config_path: &Path, args: ListArgs) -> Outcome {
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    let drafts = store.drafts(args.mailbox.as_deref(), args.all).await?;
    if args.json {
        return print_json(&drafts);
    }
    if drafts.is_empty() {
        say!("no drafts waiting");
        return Ok(());
    }
    for d in &drafts {
        let deadline = d
            .deadline_at
            .map(|at| {
                format!(
                    "  deadline {} ({})",
                    utc(Some(at)),
                    d.then.as_deref().unwrap_or("task")
                )
            })
            .unwrap_or_default();
        say!(
            "#{} {} {} {:?}  from {}{}",
            d.id,
            d.shown_state(),
            d.email,
            d.subject,
            d.mailbox,
            deadline
        );
        let task = d
            .task_id
            .map(|t| format!("; past its deadline: task #{t}"))
            .unwrap_or_default();
        say!(
            "    {} / {}; made {}{task}",
            d.sequence_id,
            d.step_id,
            utc(Some(d.created_at))
        );
    }
    Ok(())
}

pub async fn draft(config_path: &Path, cmd: DraftCommand) -> Outcome {
    let config = load_config(config_path)?;
    let store = open_store(&config).await?;
    let id = match &cmd {
        DraftCommand::Show(a)
        | DraftCommand::Edit(a)
        | DraftCommand::Send(a)
        | DraftCommand::Skip(a) => a.id,
    };
    let Some(d) = store.draft(id).await? else {
        return Err(Failure::failed(format!(
            "no draft #{id}; see `drumbeat drafts`"
        )));
    };
    match cmd {
        DraftCommand::Show(_) => {
            show(&d);
            Ok(())
        }
        DraftCommand::Edit(_) => edit(&config, &store, &d).await,
        DraftCommand::Send(_) => {
            let change = store.approve_draft(id, now().timestamp()).await?;
            changed(
                id,
                change,
                "approved: the daemon sends it at its next tick, inside the send window",
            )
        }
        DraftCommand::Skip(_) => {
            let catalog = load_catalog(&config)?;
            let Some(touch) = store.touch(d.touch_id).await? else {
                return Err(Failure::failed(format!("draft #{id} has no step to skip")));
            };
            let next =
                next_after_done(&config, &catalog, &store, &touch, (now(), Done::Skipped)).await?;
            let change = store
                .skip_draft(id, "cli", &next, now().timestamp())
                .await?;
            changed(id, change, "skipped: nothing is sent, the lead moves on")
        }
    }
}

/// Says what acting on draft `id` did.
fn changed(id: i64, change: DraftChange, done: &str) -> Outcome {
    match change {
        DraftChange::Done => {
            say!("draft #{id} {done}");
            Ok(())
        }
        DraftChange::Unknown => Err(Failure::failed(format!("no draft #{id}"))),
        DraftChange::Closed(state) => Err(Failure::failed(format!(
            "draft #{id} is {state}; nothing changed"
        ))),
    }
}

fn show(d: &DraftRow) {
    say!("draft #{} ({})", d.id, d.shown_state());
    say!("To: {}", d.email);
    say!("From mailbox: {}", d.mailbox);
    say!("Message-ID: {}", d.message_id);
    if let Some(r) = &d.in_reply_to {
        say!("In-Reply-To: {r}");
    }
    say!("Sequence: {} / {}", d.sequence_id, d.step_id);
    if let Some(at) = d.deadline_at {
        say!(
            "Deadline: {} (then {})",
            utc(Some(at)),
            d.then.as_deref().unwrap_or("task")
        );
    }
    say!();
    print!("{}", editable(&d.subject, &d.body));
}

/// The text the rep edits: a `Subject:` line, a blank line, the body.
fn editable(subject: &str, body: &str) -> String {
    let mut s = format!("Subject: {subject}\n\n{body}");
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// Reads an edited draft back: `Subject: …` on line 1, a blank line, the body.
pub fn parse_edit(text: &str) -> Result<(String, String), String> {
    let text = text.replace("\r\n", "\n");
    let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let Some(subject) = first
        .get(..8)
        .filter(|h| h.eq_ignore_ascii_case("subject:"))
        .map(|_| first[8..].trim())
    else {
        return Err("line 1: the first line must be `Subject: …`".into());
    };
    if subject.is_empty() {
        return Err("line 1: the subject is empty".into());
    }
    let Some(body) = rest.strip_prefix('\n') else {
        return Err("line 2: leave one blank line between the subject and the body".into());
    };
    if body.trim().is_empty() {
        return Err("line 3: the body is empty".into());
    }
    Ok((subject.to_string(), format!("{}\n", body.trim_end())))
}

/// `draft edit`: the text in $EDITOR, read back, re-composed and stored; a broken edit
/// changes nothing.
async fn edit(config: &Config, store: &Store, d: &DraftRow) -> Outcome {
    if !d.waiting() || d.state != "open" {
        return Err(Failure::failed(format!(
            "draft #{} is {}; only an open draft can be edited",
            d.id,
            d.shown_state()
        )));
    }
    let catalog = load_catalog(config)?;
    let file = tempfile::Builder::new()
        .prefix(&format!("drumbeat-draft-{}-", d.id))
        .suffix(".txt")
        .tempfile()
        .map_err(|e| Failure::failed(format!("cannot make a file to edit: {e}")))?;
    let before = editable(&d.subject, &d.body);
    std::fs::write(file.path(), &before)
        .map_err(|e| Failure::failed(format!("cannot write {}: {e}", file.path().display())))?;
    run_editor(file.path())?;
    let after = std::fs::read_to_string(file.path())
        .map_err(|e| Failure::failed(format!("cannot read the edited draft: {e}")))?;
    if after == before {
        say!("draft #{} unchanged", d.id);
        return Ok(());
    }
    let (subject, body) = parse_edit(&after)
        .map_err(|e| Failure::failed(format!("draft #{}: {e}; nothing changed", d.id)))?;
    let edited = EditedText {
        subject,
        text: body,
        html: None,
    };
    let message = recompose(config, &catalog, store, d, &edited)
        .await
        .map_err(|e| Failure::failed(format!("draft #{}: {e}; nothing changed", d.id)))?;
    let change = store
        .edit_draft(
            d.id,
            &edited.subject,
            &edited.text,
            &message,
            now().timestamp(),
        )
        .await?;
    changed(d.id, change, "saved")
}

/// Runs `$EDITOR FILE` (through the shell, so `EDITOR="code --wait"` works).
fn run_editor(path: &Path) -> Result<(), Failure> {
    let editor = std::env::var("VISUAL")
        .ok()
        .or_else(|| std::env::var("EDITOR").ok())
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "vi".to_string());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(path)
        .status()
        .map_err(|e| Failure::failed(format!("cannot run the editor {editor:?}: {e}")))?;
    if !status.success() {
        return Err(Failure::failed(format!(
            "the editor {editor:?} failed ({status}); nothing changed"
        )));
    }
    Ok(())
}

/// The draft's message with the edited text, through the one composer (what the Drafts folder
/// gets, and a check that the edit makes a message).
async fn recompose(
    config: &Config,
    catalog: &Catalog,
    store: &Store,
    d: &DraftRow,
    edited: &EditedText,
) -> Result<String, String> {
    let seq = catalog
        .sequence(&d.sequence_id)
        .ok_or_else(|| format!("sequence {:?} is no longer in the catalog", d.sequence_id))?;
    let index = seq
        .step_index(&d.step_id)
        .ok_or_else(|| format!("step {:?} is no longer in {}", d.step_id, seq.file))?;
    let mailbox = config
        .mailbox(&d.mailbox)
        .ok_or_else(|| format!("mailbox {:?} is no longer in config.toml", d.mailbox))?;
    let err = |e: crate::store::StoreError| e.to_string();
    let leads = store
        .leads_by_ids(&[LeadId(d.lead_id)])
        .await
        .map_err(err)?;
    let lead = leads.get(&LeadId(d.lead_id)).ok_or("its lead is gone")?;
    let enrollment = EnrollmentId(d.enrollment_id);
    let past = store.past_touches(&[enrollment]).await.map_err(err)?;
    let past = past.get(&enrollment).cloned().unwrap_or_default();
    let tokens = crate::send::tokens::key_from(config, store, now().timestamp()).await?;
    let composed = compose_with(
        catalog,
        config,
        Some(&tokens),
        &Draft {
            sequence: seq,
            index,
            lead: &lead.record,
            mailbox,
            past: &past,
            stored_subject: None,
            message_id: &d.message_id,
            date: now(),
            variant: None,
        },
        Some(edited),
    )?;
    Ok(String::from_utf8_lossy(&composed.message.formatted()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::parse_edit;

    #[test]
    fn an_edit_reads_back_and_a_broken_one_says_where() {
        assert_eq!(
            parse_edit("Subject: Hi Maria\n\nHello\nthere\n\n"),
            Ok(("Hi Maria".into(), "Hello\nthere\n".into()))
        );
        assert!(parse_edit("Hello").unwrap_err().contains("line 1"));
        assert!(
            parse_edit("Subject:   \n\nbody")
                .unwrap_err()
                .contains("subject is empty")
        );
        assert!(
            parse_edit("Subject: x\nbody")
                .unwrap_err()
                .contains("line 2")
        );
        assert!(
            parse_edit("Subject: x\n\n  \n")
                .unwrap_err()
                .contains("body is empty")
        );
        assert!(parse_edit("").is_err());
        assert!(parse_edit("Subjé").is_err());
    }
}
