//! The documentation is tested: every config block, sequence block and command of README.md
//! and docs/*.md runs here against the real binary, the README's tour and the inbox
//! walkthrough run for real, and links and the module map are kept true. How blocks are
//! marked is described at the top of docs/development.md; this file implements exactly that.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::support::imap::{Imap, fresh_user, imap_server};
use crate::support::{Project, Run, repo};

// =============================================================================================
// Reading the Markdown files
// =============================================================================================

/// One fenced block of a Markdown file.
#[derive(Debug)]
struct Block {
    /// The file, relative to the repository (`docs/config.md`).
    file: String,
    /// The line of the opening fence (1-based).
    line: usize,
    /// The first word of the info string (`toml`, `sh`…).
    lang: String,
    /// The other words (`fragment`, `invalid`, `file=PATH`).
    markers: Vec<String>,
    /// The lines between the fences, each ending with a newline.
    text: String,
    /// The `## ` heading the block is under ("" before the first).
    section: String,
}

impl Block {
    fn has(&self, marker: &str) -> bool {
        self.markers.iter().any(|m| m == marker)
    }

    fn file_marker(&self) -> Option<&str> {
        self.markers.iter().find_map(|m| m.strip_prefix("file="))
    }

    /// `file:line`, for messages.
    fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// The text of the block's `# error: TEXT` comment (what an invalid block must be refused for).
    fn expected_error(&self) -> Option<String> {
        self.text
            .lines()
            .find_map(|l| l.split_once("# error:").map(|(_, e)| e.trim().to_string()))
    }
}

/// A Markdown file: its fenced blocks, and its other lines (prose, tables, headings).
struct Doc {
    rel: String,
    blocks: Vec<Block>,
    /// Lines outside fences, with their line numbers.
    prose: Vec<(usize, String)>,
}

impl Doc {
    fn read(rel: &str) -> Doc {
        let text =
            std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"));
        let mut blocks = Vec::new();
        let mut prose = Vec::new();
        let mut section = String::new();
        let mut open: Option<Block> = None;
        for (i, line) in text.lines().enumerate() {
            let number = i + 1;
            match open.as_mut() {
                Some(b) => {
                    if line.trim_end() == "```" {
                        blocks.push(open.take().expect("an open block"));
                    } else {
                        b.text.push_str(line);
                        b.text.push('\n');
                    }
                }
                None => {
                    if let Some(info) = line.strip_prefix("```") {
                        let mut words = info.split_whitespace().map(str::to_string);
                        open = Some(Block {
                            file: rel.to_string(),
                            line: number,
                            lang: words.next().unwrap_or_default(),
                            markers: words.collect(),
                            text: String::new(),
                            section: section.clone(),
                        });
                    } else {
                        if let Some(h) = line.strip_prefix("## ") {
                            section = h.trim().to_string();
                        }
                        prose.push((number, line.to_string()));
                    }
                }
            }
        }
        assert!(open.is_none(), "{rel}: a fenced block is never closed");
        Doc {
            rel: rel.to_string(),
            blocks,
            prose,
        }
    }

    /// The blocks under one `## ` heading, in order; panics when there are none.
    fn section(&self, heading: &str) -> Vec<&Block> {
        let blocks: Vec<&Block> = self
            .blocks
            .iter()
            .filter(|b| b.section == heading)
            .collect();
        assert!(
            !blocks.is_empty(),
            "{}: no blocks under the heading \"## {heading}\"",
            self.rel
        );
        blocks
    }
}

/// README.md and every docs/*.md, README first.
fn docs() -> Vec<Doc> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("docs"))
        .expect("read docs/")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 10,
        "docs/ holds only {} Markdown files: {names:?}",
        names.len()
    );
    std::iter::once("README.md".to_string())
        .chain(names)
        .map(|n| Doc::read(&n))
        .collect()
}

fn blocks<'a>(docs: &'a [Doc], lang: &str) -> Vec<&'a Block> {
    docs.iter()
        .flat_map(|d| &d.blocks)
        .filter(|b| b.lang == lang)
        .collect()
}

/// Fails with every problem found, not only the first.
#[track_caller]
fn report(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} problem(s) in {what}:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

// =============================================================================================
// Config blocks (```toml)
// =============================================================================================

/// Secrets the test provides for a config: variables, credential files, secret files.
struct Secrets {
    env: Vec<(String, String)>,
    credentials: tempfile::TempDir,
}

/// Gives every secret source of `value` (a `{ env | file | credential | command = … }` table)
/// a value that fits the key it sits under; absolute secret files move under `project`.
fn provide_secrets(value: &mut toml::Value, key: &str, project: &Path, s: &mut Secrets) {
    match value {
        toml::Value::Table(t) => {
            let source = ["env", "file", "credential", "command"];
            if t.len() == 1 && t.keys().all(|k| source.contains(&k.as_str())) {
                let secret = match key {
                    "url" | "webhook" => "https://hooks.example.com/services/T000/B000/XXXX".into(),
                    "secret" => {
                        use base64::Engine;
                        let key = base64::engine::general_purpose::STANDARD
                            .encode(b"drumbeat docs test: 32 key bytes");
                        format!("whsec_{key}")
                    }
                    _ => "docs-test-secret".to_string(),
                };
                if let Some(toml::Value::String(name)) = t.get("env") {
                    s.env.push((name.clone(), secret));
                } else if let Some(toml::Value::String(name)) = t.get("credential") {
                    std::fs::write(s.credentials.path().join(name), secret)
                        .expect("write a credential");
                } else if let Some(toml::Value::String(path)) = t.get("file").cloned() {
                    let target = match path.strip_prefix('/') {
                        Some(rel) => project.join("secret-files").join(rel),
                        None => project.join(&path),
                    };
                    std::fs::create_dir_all(target.parent().expect("a parent"))
                        .expect("create the secret's folder");
                    std::fs::write(&target, secret).expect("write a secret file");
                    t.insert(
                        "file".into(),
                        toml::Value::String(target.display().to_string()),
                    );
                }
                // A `command` is left as it is: validate warns about it, and the test fails.
            } else {
                for (k, v) in t.iter_mut() {
                    provide_secrets(v, k, project, s);
                }
            }
        }
        toml::Value::Array(items) => {
            for v in items {
                provide_secrets(v, key, project, s);
            }
        }
        _ => {}
    }
}

fn is_array_of_tables(items: &[toml::Value]) -> bool {
    !items.is_empty() && items.iter().all(toml::Value::is_table)
}

/// Merges a fragment into a config as if it were pasted at the end of the file: tables merge
/// key by key (the fragment's value wins), `[[…]]` entries are added, and a bare `[mailbox.…]`
/// table belongs to the last `[[mailbox]]`.
fn merge_toml(base: &mut toml::Table, fragment: toml::Table) {
    for (key, value) in fragment {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(f)) => merge_toml(b, f),
            (Some(toml::Value::Array(b)), toml::Value::Array(f))
                if is_array_of_tables(b) && is_array_of_tables(&f) =>
            {
                b.extend(f)
            }
            (Some(toml::Value::Array(b)), toml::Value::Table(f)) if is_array_of_tables(b) => {
                match b.last_mut() {
                    Some(toml::Value::Table(last)) => merge_toml(last, f),
                    _ => unreachable!("an array of tables ends with a table"),
                }
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// `drumbeat validate --json` in the project, with the secrets.
fn validate(p: &Project, secrets: &Secrets) -> (Run, serde_json::Value) {
    let mut cmd = p.cmd(&["validate", "--json"]);
    cmd.env("CREDENTIALS_DIRECTORY", secrets.credentials.path());
    for (k, v) in &secrets.env {
        cmd.env(k, v);
    }
    let run = Run::from_output(cmd.output().expect("run drumbeat validate"));
    let json = serde_json::from_str(&run.stdout).unwrap_or(serde_json::Value::Null);
    (run, json)
}

/// What `validate` said, for a failure message.
fn diagnostics(run: &Run, json: &serde_json::Value) -> String {
    match json["diagnostics"].as_array() {
        Some(ds) => ds
            .iter()
            .map(|d| {
                format!(
                    "    {}: {}:{}:{}: {}",
                    d["severity"].as_str().unwrap_or("?"),
                    d["file"].as_str().unwrap_or("?"),
                    d["line"],
                    d["column"],
                    d["message"].as_str().unwrap_or("?")
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        None => format!("    exit {}: {}{}", run.code, run.stdout, run.stderr),
    }
}

/// Checks one validate result against what the block says it is; None when it holds.
fn judge(block: &Block, run: &Run, json: &serde_json::Value, written: &str) -> Option<String> {
    let ok = json["ok"].as_bool() == Some(true);
    if block.has("invalid") {
        let Some(expected) = block.expected_error() else {
            return Some(format!(
                "{}: an `invalid` block needs a `# error: TEXT` comment saying why it is refused",
                block.at()
            ));
        };
        let said = format!("{}{}", run.stdout, run.stderr);
        if ok || run.code == 0 {
            Some(format!(
                "{}: marked invalid, but `drumbeat validate` accepts it",
                block.at()
            ))
        } else if !said.contains(&expected) {
            Some(format!(
                "{}: refused, but not for {expected:?}:\n{}",
                block.at(),
                diagnostics(run, json)
            ))
        } else {
            None
        }
    } else if !ok || json["warnings"].as_u64() != Some(0) || run.code != 0 {
        Some(format!(
            "{}: `drumbeat validate` does not accept this {} block as it stands:\n{}\n  as checked:\n{}",
            block.at(),
            block.lang,
            diagnostics(run, json),
            written
                .lines()
                .map(|l| format!("    | {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        ))
    } else {
        None
    }
}

/// Checks one ```toml block in a fresh copy of the shipped project.
fn check_config_block(block: &Block) -> Option<String> {
    let p = Project::shipped();
    let mut secrets = Secrets {
        env: Vec::new(),
        credentials: tempfile::tempdir().expect("a temp dir"),
    };
    let parsed = block.text.parse::<toml::Table>();
    let written = match (parsed, block.has("fragment")) {
        (Ok(fragment), true) => {
            let shipped = std::fs::read_to_string(p.file("config.toml")).expect("config.toml");
            let mut config: toml::Table = shipped.parse().expect("the shipped config.toml");
            merge_toml(&mut config, fragment);
            let mut value = toml::Value::Table(config);
            provide_secrets(&mut value, "", p.path(), &mut secrets);
            toml::to_string(&value).expect("serialize the merged config")
        }
        (Ok(whole), false) => {
            let mut value = toml::Value::Table(whole);
            provide_secrets(&mut value, "", p.path(), &mut secrets);
            toml::to_string(&value).expect("serialize the config")
        }
        // Not TOML at all: only an invalid block may be that, and it goes in as written.
        (Err(e), fragment) => {
            if !block.has("invalid") {
                return Some(format!("{}: not TOML: {e}", block.at()));
            }
            if fragment {
                let shipped = std::fs::read_to_string(p.file("config.toml")).expect("config");
                format!("{shipped}\n{}", block.text)
            } else {
                block.text.clone()
            }
        }
    };
    p.write("config.toml", &written);
    let (run, json) = validate(&p, &secrets);
    judge(block, &run, &json, &written)
}

#[test]
fn every_config_block_passes_validate() {
    let docs = docs();
    let toml_blocks = blocks(&docs, "toml");
    for (what, n) in [
        (
            "whole",
            toml_blocks.iter().filter(|b| !b.has("fragment")).count(),
        ),
        (
            "fragment",
            toml_blocks.iter().filter(|b| b.has("fragment")).count(),
        ),
        (
            "invalid",
            toml_blocks.iter().filter(|b| b.has("invalid")).count(),
        ),
    ] {
        assert!(n > 0, "no {what} ```toml block found in README.md or docs/");
    }
    let problems: Vec<String> = toml_blocks
        .iter()
        .filter_map(|b| check_config_block(b))
        .collect();
    report(&format!("{} ```toml blocks", toml_blocks.len()), &problems);
}

// =============================================================================================
// Sequence blocks (```yaml)
// =============================================================================================

/// Merges a sequence fragment: each top-level key replaces the sequence's own, mappings merge.
fn merge_yaml(base: &mut serde_json::Value, fragment: serde_json::Value) {
    match (base, fragment) {
        (serde_json::Value::Object(b), serde_json::Value::Object(f)) => {
            for (k, v) in f {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_yaml(existing, v)
                    }
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (base, fragment) => *base = fragment,
    }
}

/// Checks one ```yaml block as a sequence file in a fresh copy of the shipped project.
fn check_sequence_block(block: &Block) -> Option<String> {
    let p = Project::shipped();
    let secrets = Secrets {
        env: Vec::new(),
        credentials: tempfile::tempdir().expect("a temp dir"),
    };
    let parsed: Result<serde_json::Value, _> = serde_saphyr::from_str(&block.text);
    let (file, written) = match (parsed, block.has("fragment")) {
        (Ok(fragment), true) => {
            let shipped = std::fs::read_to_string(p.file("sequences/cold-outbound.yaml"))
                .expect("the shipped sequence");
            let mut sequence: serde_json::Value =
                serde_saphyr::from_str(&shipped).expect("the shipped sequence is YAML");
            merge_yaml(&mut sequence, fragment);
            let text = serde_saphyr::to_string(&sequence).expect("serialize the sequence");
            ("sequences/cold-outbound.yaml".to_string(), text)
        }
        (Ok(whole), false) => {
            let Some(id) = whole["id"].as_str() else {
                return Some(format!(
                    "{}: a whole sequence needs an `id` (or mark the block `fragment`)",
                    block.at()
                ));
            };
            (format!("sequences/{id}.yaml"), block.text.clone())
        }
        (Err(e), _) if !block.has("invalid") => {
            return Some(format!("{}: not YAML: {e}", block.at()));
        }
        (Err(_), true) => {
            let shipped = std::fs::read_to_string(p.file("sequences/cold-outbound.yaml"))
                .expect("the shipped sequence");
            (
                "sequences/cold-outbound.yaml".into(),
                format!("{shipped}{}", block.text),
            )
        }
        (Err(_), false) => ("sequences/docs-block.yaml".into(), block.text.clone()),
    };
    p.write(&file, &written);
    let (run, json) = validate(&p, &secrets);
    judge(block, &run, &json, &written)
}

#[test]
fn every_sequence_block_passes_validate() {
    let docs = docs();
    let yaml_blocks = blocks(&docs, "yaml");
    assert!(
        yaml_blocks.iter().any(|b| !b.has("fragment")),
        "no whole ```yaml sequence in README.md or docs/"
    );
    assert!(
        yaml_blocks.iter().any(|b| b.has("fragment")),
        "no ```yaml fragment in README.md or docs/"
    );
    let problems: Vec<String> = yaml_blocks
        .iter()
        .filter_map(|b| check_sequence_block(b))
        .collect();
    report(&format!("{} ```yaml blocks", yaml_blocks.len()), &problems);
}

#[test]
fn blocks_that_name_a_file_show_it_as_it_is() {
    let docs = docs();
    let named: Vec<&Block> = docs
        .iter()
        .flat_map(|d| &d.blocks)
        .filter(|b| b.file_marker().is_some())
        .collect();
    assert!(!named.is_empty(), "no block with file=PATH found");
    let mut problems = Vec::new();
    for b in named {
        let path = b.file_marker().expect("filtered on it");
        match std::fs::read_to_string(repo().join(path)) {
            Ok(content) if content == b.text => {}
            Ok(_) => problems.push(format!(
                "{}: the block differs from {path}; copy the file again",
                b.at()
            )),
            Err(e) => problems.push(format!("{}: {path}: {e}", b.at())),
        }
    }
    report("blocks showing repository files", &problems);
}

// =============================================================================================
// Commands (```sh)
// =============================================================================================

/// The simple commands of a shell script as the docs write them, as words with quotes
/// removed: enough sh for documentation (quotes, backslashes, `\` continuations, comments,
/// `&&`, `||`, `;`, `|`, `&` and redirections, which are dropped with their target).
fn shell_commands(script: &str) -> Vec<Vec<String>> {
    fn finish(word: &mut Option<String>, words: &mut Vec<String>, redirect: &mut bool) {
        if let Some(w) = word.take() {
            if *redirect {
                *redirect = false;
            } else {
                words.push(w);
            }
        }
    }
    fn end(words: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if !words.is_empty() {
            out.push(std::mem::take(words));
        }
    }
    let mut out = Vec::new();
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut redirect = false;
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') | None => {}
                Some(n) => word.get_or_insert_with(String::new).push(n),
            },
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                for n in chars.by_ref() {
                    if n == '\'' {
                        break;
                    }
                    w.push(n);
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                while let Some(n) = chars.next() {
                    match n {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('\n') | None => {}
                            Some(m @ ('"' | '\\' | '$' | '`')) => w.push(m),
                            Some(m) => {
                                w.push('\\');
                                w.push(m);
                            }
                        },
                        _ => w.push(n),
                    }
                }
            }
            '#' if word.is_none() => {
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
            }
            ' ' | '\t' => finish(&mut word, &mut words, &mut redirect),
            '\n' | ';' => {
                finish(&mut word, &mut words, &mut redirect);
                end(&mut words, &mut out);
            }
            '&' | '|' => {
                finish(&mut word, &mut words, &mut redirect);
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                end(&mut words, &mut out);
            }
            '>' | '<' => {
                if matches!(word.as_deref(), Some("1" | "2")) {
                    word = None;
                } else {
                    finish(&mut word, &mut words, &mut redirect);
                }
                if chars.peek() == Some(&'>') {
                    chars.next();
                }
                if chars.peek() == Some(&'&') {
                    chars.next();
                }
                redirect = true;
            }
            _ => word.get_or_insert_with(String::new).push(c),
        }
    }
    finish(&mut word, &mut words, &mut redirect);
    end(&mut words, &mut out);
    out
}

/// A command line that runs drumbeat.
struct DrumbeatCommand {
    /// `VAR=value` assignments before it.
    env: Vec<(String, String)>,
    /// Its arguments (after `drumbeat`).
    args: Vec<String>,
}

/// When a command runs drumbeat (`drumbeat …`, `VAR=value drumbeat …`, `cargo run --release
/// -- …`): its variable assignments and its arguments.
fn drumbeat_command(words: &[String]) -> Option<DrumbeatCommand> {
    let mut env = Vec::new();
    let mut rest = words;
    while let Some((first, tail)) = rest.split_first() {
        let Some((name, value)) = first.split_once('=') else {
            break;
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            break;
        }
        env.push((name.to_string(), value.to_string()));
        rest = tail;
    }
    let args = if rest.first().is_some_and(|w| w == "drumbeat") {
        &rest[1..]
    } else if rest.len() >= 4 && rest[..4] == ["cargo", "run", "--release", "--"] {
        &rest[4..]
    } else {
        return None;
    };
    Some(DrumbeatCommand {
        env,
        args: args.to_vec(),
    })
}

/// Runs drumbeat where it can do nothing (an empty folder, a config that does not exist), so
/// only the command line is checked: a usage error (exit 2) is a mistake in the docs.
fn parses(empty: &Path, env: &[(String, String)], args: &[String]) -> Result<(), String> {
    let missing = empty.join("no-such-folder/config.toml");
    // A command that names its own config gets the missing one too.
    let mut args = args.to_vec();
    for i in 0..args.len() {
        if args[i] == "--config" && i + 1 < args.len() {
            args[i + 1] = missing.display().to_string();
        } else if args[i].starts_with("--config=") {
            args[i] = format!("--config={}", missing.display());
        }
    }
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("drumbeat"));
    cmd.current_dir(empty)
        .env("DRUMBEAT_CONFIG", &missing)
        .env_remove("DRUMBEAT_NOW")
        .env_remove("DRUMBEAT_INSTANCE")
        .env_remove("DRUMBEAT_LOG_FORMAT")
        .env_remove("RUST_LOG")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(&args)
        .stdin(std::process::Stdio::null());
    let run = Run::from_output(cmd.output().expect("run drumbeat"));
    if run.code == 2 {
        Err(run.stderr)
    } else {
        Ok(())
    }
}

#[test]
fn every_command_in_the_docs_parses_with_the_real_cli() {
    let empty = tempfile::tempdir().expect("a temp dir");
    // The check itself can fail: a misspelled flag and subcommand are usage errors.
    for wrong in [&["status", "--jsn"][..], &["leads", "imprt", "x.csv"][..]] {
        let args: Vec<String> = wrong.iter().map(|s| s.to_string()).collect();
        assert!(
            parses(empty.path(), &[], &args).is_err(),
            "drumbeat {wrong:?} should be a usage error"
        );
    }
    let docs = docs();
    let mut problems = Vec::new();
    let mut checked = BTreeMap::<String, usize>::new();
    for b in blocks(&docs, "sh") {
        for words in shell_commands(&b.text) {
            let Some(DrumbeatCommand { env, args }) = drumbeat_command(&words) else {
                continue;
            };
            *checked.entry(b.file.clone()).or_default() += 1;
            if let Err(e) = parses(empty.path(), &env, &args) {
                problems.push(format!("{}: drumbeat {}:\n{e}", b.at(), args.join(" ")));
            }
        }
    }
    assert!(
        checked.get("README.md").copied().unwrap_or(0) >= 10,
        "too few drumbeat commands found in README.md's sh blocks: {checked:?}"
    );
    assert!(
        checked.values().sum::<usize>() >= 40,
        "too few drumbeat commands found in sh blocks: {checked:?}"
    );
    report("drumbeat commands of sh blocks", &problems);
}

// =============================================================================================
// Inline commands (`drumbeat …` in prose and tables)
// =============================================================================================

/// The inline code spans of a line (`` `x` `` and ``` `` x `` ```), with table escapes undone.
fn code_spans(line: &str) -> Vec<String> {
    let mut spans = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'`' {
            i += 1;
            continue;
        }
        let run = bytes[i..].iter().take_while(|&&b| b == b'`').count();
        let start = i + run;
        let mut j = start;
        let mut close = None;
        while j < bytes.len() {
            if bytes[j] == b'`' {
                let n = bytes[j..].iter().take_while(|&&b| b == b'`').count();
                if n == run {
                    close = Some(j);
                    break;
                }
                j += n;
            } else {
                j += 1;
            }
        }
        let Some(end) = close else { break };
        spans.push(line[start..end].trim().replace("\\|", "|"));
        i = end + run;
    }
    spans
}

/// The `--flags` named in a piece of text.
fn long_flags(text: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("--") {
        let after = &rest[at + 2..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        if name.starts_with(|c: char| c.is_ascii_lowercase()) {
            flags.insert(format!("--{}", name.trim_end_matches('-')));
        }
        rest = &after[name.len()..];
    }
    flags
}

/// `drumbeat PATH… --help` for the longest leading part of `path` that is a command.
fn help_of(path: &[String], cache: &mut BTreeMap<Vec<String>, String>) -> String {
    for n in (0..=path.len()).rev() {
        let key = path[..n].to_vec();
        if let Some(h) = cache.get(&key) {
            return h.clone();
        }
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("drumbeat"))
            .args(&key)
            .arg("--help")
            .output()
            .expect("run drumbeat --help");
        if out.status.success() {
            let help = String::from_utf8_lossy(&out.stdout).into_owned();
            cache.insert(key, help.clone());
            return help;
        }
    }
    unreachable!("`drumbeat --help` succeeds")
}

#[test]
fn inline_commands_name_real_flags() {
    let docs = docs();
    let mut cache = BTreeMap::new();
    let mut problems = Vec::new();
    let mut spans = 0;
    for d in &docs {
        for (number, line) in &d.prose {
            for span in code_spans(line) {
                let Some(rest) = span.strip_prefix("drumbeat ") else {
                    continue;
                };
                spans += 1;
                // The subcommand: the leading plain words (`leads import`, `pause|resume|stop`).
                let words: Vec<&str> = rest
                    .split_whitespace()
                    .take_while(|w| {
                        !w.is_empty()
                            && w.split('|').all(|alt| {
                                !alt.is_empty() && alt.chars().all(|c| c.is_ascii_lowercase())
                            })
                    })
                    .collect();
                let mut paths: Vec<Vec<String>> = vec![Vec::new()];
                for w in &words {
                    paths = paths
                        .iter()
                        .flat_map(|p| {
                            w.split('|').map(move |alt| {
                                let mut q = p.clone();
                                q.push(alt.to_string());
                                q
                            })
                        })
                        .collect();
                }
                for path in paths {
                    let known = long_flags(&help_of(&path, &mut cache));
                    for flag in long_flags(rest) {
                        if !known.contains(&flag) {
                            problems.push(format!(
                                "{}:{number}: `drumbeat {rest}`: `drumbeat {}` has no {flag}",
                                d.rel,
                                path.join(" ")
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(spans >= 30, "only {spans} inline `drumbeat …` spans found");
    report("inline drumbeat commands", &problems);
}

// =============================================================================================
// Walkthroughs: the README's tour and the inbox walkthrough, run for real
// =============================================================================================

/// The test's IMAP server and user, for a walkthrough that needs one.
struct ImapUser {
    server: (String, u16),
    user: String,
}

/// Matches a command's output against a ```text block: lines in order, trailing spaces
/// aside; a line `…` stands for any number of lines, `…` inside a line for any text.
fn output_matches(expected: &[&str], actual: &[&str]) -> bool {
    fn line_matches(pattern: &str, line: &str) -> bool {
        let parts: Vec<&str> = pattern.split('…').collect();
        if parts.len() == 1 {
            return pattern == line;
        }
        let (first, last) = (parts[0], parts[parts.len() - 1]);
        if !line.starts_with(first) || !line[first.len()..].ends_with(last) {
            return false;
        }
        let mut rest = &line[first.len()..line.len() - last.len()];
        for part in &parts[1..parts.len() - 1] {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        true
    }
    match expected.split_first() {
        None => actual.is_empty(),
        Some((&"…", rest)) => {
            (0..=actual.len()).any(|skip| output_matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => actual
            .split_first()
            .is_some_and(|(line, tail)| line_matches(first, line) && output_matches(rest, tail)),
    }
}

/// Applies a ```toml fragment of a walkthrough to the project's config.toml (with the test's
/// IMAP server and user in place of the documented ones).
fn apply_fragment(p: &Project, block: &Block, imap: Option<&ImapUser>) {
    let shipped = std::fs::read_to_string(p.file("config.toml")).expect("config.toml");
    let mut config: toml::Table = shipped.parse().expect("the project's config.toml");
    let fragment: toml::Table = block
        .text
        .parse()
        .unwrap_or_else(|e| panic!("{}: not TOML: {e}", block.at()));
    merge_toml(&mut config, fragment);
    if let (Some(imap), Some(toml::Value::Array(mailboxes))) = (imap, config.get_mut("mailbox")) {
        for m in mailboxes {
            if let Some(toml::Value::Table(t)) = m.get_mut("imap") {
                t.insert("host".into(), imap.server.0.clone().into());
                t.insert("port".into(), i64::from(imap.server.1).into());
                t.insert("username".into(), imap.user.clone().into());
            }
        }
    }
    p.write(
        "config.toml",
        toml::to_string(&config).expect("serialize config.toml"),
    );
}

/// Runs one sh block of a walkthrough in the project; returns what it printed.
fn run_walk_block(
    p: &Project,
    block: &Block,
    imap: Option<&ImapUser>,
    ran: &mut Vec<String>,
) -> String {
    let mut printed = String::new();
    for words in shell_commands(&block.text) {
        let line = words.join(" ");
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        match w.as_slice() {
            ["cargo", "build" | "install", ..] | ["alias", ..] => {}
            ["eval", what] if what.contains("scripts/testbed start") => {}
            ["export", assignment] if assignment.starts_with("DRUMBEAT_NOW=") => {
                p.set_clock(&assignment["DRUMBEAT_NOW=".len()..]);
            }
            ["rm", "-rf", "data" | "data/"] => {
                if p.file("data").exists() {
                    std::fs::remove_dir_all(p.file("data")).expect("remove data/");
                }
            }
            ["ls", "data/outbox" | "data/outbox/"] => {
                let mut names: Vec<String> = std::fs::read_dir(p.file("data/outbox"))
                    .map(|d| {
                        d.flatten()
                            .map(|e| e.file_name().to_string_lossy().into_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                names.sort();
                for n in names {
                    printed.push_str(&n);
                    printed.push('\n');
                }
            }
            ["curl", ..] if line.contains("imap://") => {
                let imap =
                    imap.unwrap_or_else(|| panic!("{}: `{line}` needs an IMAP server", block.at()));
                let file = w
                    .iter()
                    .position(|a| *a == "-T")
                    .and_then(|i| w.get(i + 1))
                    .unwrap_or_else(|| panic!("{}: `{line}`: no -T FILE", block.at()));
                let url = w
                    .iter()
                    .find(|a| a.starts_with("imap://"))
                    .expect("checked above");
                let folder = url.rsplit('/').next().unwrap_or("INBOX");
                let raw = std::fs::read(p.file(file))
                    .unwrap_or_else(|e| panic!("{}: {file}: {e}", block.at()));
                Imap::login(&imap.server, &imap.user).append(folder, &raw);
            }
            _ => {
                let Some(DrumbeatCommand { env, args }) = drumbeat_command(&words) else {
                    panic!(
                        "{}: the walkthrough runs `{line}`, which the docs test does not know \
                         how to run (see docs/development.md)",
                        block.at()
                    );
                };
                assert!(
                    p.clock().is_some(),
                    "{}: `{line}` runs before the walkthrough pins the clock \
                     (export DRUMBEAT_NOW=…)",
                    block.at()
                );
                let mut cmd = p.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>());
                cmd.envs(env);
                let run = Run::from_output(cmd.output().expect("run drumbeat"));
                assert_eq!(
                    run.code,
                    0,
                    "{}: `{line}` failed (exit {})\nstdout:\n{}\nstderr:\n{}",
                    block.at(),
                    run.code,
                    run.stdout,
                    run.stderr
                );
                printed.push_str(&run.stdout);
                ran.push(args.join(" "));
            }
        }
    }
    printed
}

/// Runs the blocks under one heading in order, in one project: config fragments are applied,
/// sh blocks run, and a ```text block right after a sh block must match what it printed.
/// Returns the drumbeat commands run.
fn walk(doc: &Doc, heading: &str, p: &Project, imap: Option<&ImapUser>) -> Vec<String> {
    let mut ran = Vec::new();
    let mut printed: Option<(String, String)> = None;
    let mut compared = 0;
    for block in doc.section(heading) {
        match (block.lang.as_str(), block.has("fragment")) {
            ("sh", _) => {
                printed = Some((block.at(), run_walk_block(p, block, imap, &mut ran)));
            }
            ("text", _) => {
                let (at, out) = printed.take().unwrap_or_else(|| {
                    panic!(
                        "{}: a ```text block in a walkthrough shows what the sh block right \
                         before it prints, and there is none",
                        block.at()
                    )
                });
                let expected: Vec<&str> = block.text.lines().map(str::trim_end).collect();
                let actual: Vec<&str> = out.lines().map(str::trim_end).collect();
                assert!(
                    output_matches(&expected, &actual),
                    "{}: the commands of {at} do not print what the docs show.\n\
                     --- the docs show:\n{}\n--- they print:\n{out}",
                    block.at(),
                    block.text
                );
                compared += 1;
            }
            ("toml", true) => {
                apply_fragment(p, block, imap);
                printed = None;
            }
            _ => printed = None,
        }
    }
    assert!(
        compared > 0,
        "{}: the walkthrough \"{heading}\" shows no output to check",
        doc.rel
    );
    ran
}

/// A copy of the shipped project with the files the walkthroughs use (docs/examples/).
fn walkthrough_project() -> Project {
    let p = Project::shipped();
    let examples = repo().join("docs/examples");
    for e in std::fs::read_dir(&examples)
        .expect("read docs/examples")
        .flatten()
    {
        p.write(
            &format!("docs/examples/{}", e.file_name().to_string_lossy()),
            std::fs::read(e.path()).expect("read an example file"),
        );
    }
    p
}

fn lead_state(p: &Project, email: &str) -> String {
    let lead = p.ok(&["lead", "show", email, "--json"]).json();
    lead["enrollments"][0]["state"]
        .as_str()
        .unwrap_or("none")
        .to_string()
}

/// The emails in data/outbox/ to an address.
fn emails_to(p: &Project, address: &str) -> usize {
    std::fs::read_dir(p.file("data/outbox"))
        .expect("read data/outbox")
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path())
                .expect("read an .eml file")
                .lines()
                .any(|l| l.starts_with("To:") && l.contains(address))
        })
        .count()
}

#[test]
fn the_readme_tour_runs_as_written() {
    let readme = Doc::read("README.md");
    let p = walkthrough_project();
    let ran = walk(&readme, "A ten-minute tour", &p, None);

    for needed in [
        "validate",
        "leads import",
        "preview",
        "run --once",
        "status",
        "classify",
        "stop",
        "lead show",
    ] {
        assert!(
            ran.iter().any(|c| c.starts_with(needed)),
            "the tour no longer runs `drumbeat {needed}`; it ran {ran:#?}"
        );
    }
    // What the tour says the user sees: five emails, one of them to Maria (her intro), and her
    // sequence stopped by her reply before the follow-up was due.
    let outbox = std::fs::read_dir(p.file("data/outbox"))
        .expect("the tour writes data/outbox/")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".eml"))
        .count();
    assert_eq!(outbox, 5, "the tour's emails in data/outbox/");
    assert_eq!(emails_to(&p, "maria.garcia@northwind.example"), 1);
    assert_eq!(emails_to(&p, "tom.becker@contoso.example"), 2);
    assert_eq!(lead_state(&p, "maria.garcia@northwind.example"), "stopped");
    assert_eq!(lead_state(&p, "tom.becker@contoso.example"), "active");
}

#[test]
fn the_inbox_walkthrough_stops_a_lead_on_her_reply() {
    let test = "the_inbox_walkthrough_stops_a_lead_on_her_reply";
    let Some(server) = imap_server(test) else {
        return;
    };
    let imap = ImapUser {
        server,
        user: fresh_user(test),
    };
    let inbox = Doc::read("docs/inbox.md");
    let p = walkthrough_project();
    let ran = walk(&inbox, "Try it: a reply stops a lead", &p, Some(&imap));
    assert!(
        ran.iter().any(|c| c.starts_with("reply handled")),
        "the walkthrough no longer handles the reply: {ran:#?}"
    );
    assert_eq!(lead_state(&p, "maria.garcia@northwind.example"), "replied");
    assert_eq!(emails_to(&p, "maria.garcia@northwind.example"), 1);
    let replies = p.ok(&["replies", "--all", "--json"]).json();
    assert_eq!(replies[0]["outcome"], "interested", "{replies:#}");
}

// =============================================================================================
// The two commands, links, the module map
// =============================================================================================

/// The README's two commands, as `.ci/run` and new users depend on them.
const TWO_COMMANDS: [&str; 2] = [
    "cargo run --release -- leads import sample-leads.csv --sequence cold-outbound && cargo run --release -- run --once && cargo run --release -- status",
    "scripts/test",
];

#[test]
fn the_readme_keeps_the_two_commands_and_the_first_runs() {
    let readme = Doc::read("README.md");
    let section = readme.section("The two commands");
    assert_eq!(section.len(), 1, "one block under \"The two commands\"");
    let commands: Vec<&str> = section[0]
        .text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    assert_eq!(commands, TWO_COMMANDS);
    let ci = std::fs::read_to_string(repo().join(".ci/run")).expect("read .ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == "scripts/test"),
        ".ci/run no longer runs scripts/test"
    );

    // The first command, on a Thursday morning in New York.
    let p = Project::shipped();
    p.set_clock("2026-03-05T15:00:00Z");
    let mut printed = String::new();
    for words in shell_commands(TWO_COMMANDS[0]) {
        let DrumbeatCommand { env, args } = drumbeat_command(&words).expect("a drumbeat command");
        assert!(env.is_empty());
        printed.push_str(
            &p.ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
                .stdout,
        );
    }
    assert!(
        printed.contains("5 enrolled in cold-outbound") && printed.contains("sent 3,"),
        "{printed}"
    );
    assert!(
        printed.lines().any(
            |l| l.split_whitespace().take(3).collect::<Vec<_>>() == ["cold-outbound", "5", "5"]
        ),
        "status shows the five leads active:\n{printed}"
    );
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings (duplicates get -1, -2… as on GitHub).
fn anchors(path: &Path) -> BTreeSet<String> {
    let rel = path
        .strip_prefix(repo())
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned();
    let doc = Doc::read(&rel);
    let mut seen = BTreeMap::<String, usize>::new();
    let mut out = BTreeSet::new();
    for (_, line) in &doc.prose {
        let Some(text) = line.strip_prefix('#') else {
            continue;
        };
        let s = slug(text.trim_start_matches('#'));
        let n = seen.entry(s.clone()).or_default();
        out.insert(if *n == 0 {
            s.clone()
        } else {
            format!("{s}-{n}")
        });
        *n += 1;
    }
    out
}

#[test]
fn links_point_at_files_and_headings_that_exist() {
    let docs = docs();
    let mut problems = Vec::new();
    let mut links = 0;
    for d in &docs {
        let dir = repo().join(&d.rel);
        let dir = dir.parent().expect("a folder");
        for (number, line) in &d.prose {
            let mut rest = line.as_str();
            while let Some(at) = rest.find("](") {
                let after = &rest[at + 2..];
                let end = after.find(')').unwrap_or(after.len());
                let target = after[..end].split_whitespace().next().unwrap_or("");
                rest = &after[end..];
                if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                links += 1;
                let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
                let path: PathBuf = if file.is_empty() {
                    repo().join(&d.rel)
                } else {
                    dir.join(file)
                };
                if !path.exists() {
                    problems.push(format!("{}:{number}: {target}: no such file", d.rel));
                    continue;
                }
                if !anchor.is_empty() && !anchors(&path).contains(anchor) {
                    problems.push(format!(
                        "{}:{number}: {target}: no heading with that anchor",
                        d.rel
                    ));
                }
            }
        }
    }
    assert!(links >= 30, "only {links} relative links found");
    report("links", &problems);
}

#[test]
fn the_module_map_names_every_module() {
    let lib = std::fs::read_to_string(repo().join("src/lib.rs")).expect("read src/lib.rs");
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').trim())
        .collect();
    assert!(modules.len() >= 10, "src/lib.rs: {modules:?}");
    let dev = Doc::read("docs/development.md");
    let map = dev
        .section("Module map")
        .into_iter()
        .find(|b| b.lang == "text")
        .expect("a text block under \"## Module map\"");
    let entries: BTreeSet<&str> = map
        .text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let missing: Vec<String> = modules
        .iter()
        .map(|m| {
            if repo().join(format!("src/{m}.rs")).is_file() {
                format!("{m}.rs")
            } else {
                format!("{m}/")
            }
        })
        .filter(|entry| !entries.contains(entry.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/development.md's module map does not name {missing:?} (src/lib.rs has them)"
    );
}
