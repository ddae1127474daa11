//! A small HTTP/1.1 receiver on 127.0.0.1 for what drumbeat posts (outgoing webhooks, rep
//! notifications): it records each request and answers scripted statuses.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
    /// What the receiver answered.
    pub answered: u16,
}

impl Request {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// A small HTTP/1.1 server on 127.0.0.1: answers the scripted statuses in order, then 200;
/// a scripted 0 reads the request and never answers.
pub struct Receiver {
    pub url: String,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    pub fn start(script: &[u16]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let (seen2, answers2) = (seen.clone(), answers.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() || line.is_empty() {
                    continue;
                }
                let path = line.split(' ').nth(1).unwrap_or_default().to_string();
                let mut headers = HashMap::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h.trim_end().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.trim_end().split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                    }
                }
                let len: usize = headers
                    .get("content-length")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                let answered = answers2.lock().unwrap().pop_front().unwrap_or(200);
                seen2.lock().unwrap().push(Request {
                    path,
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                    answered,
                });
                if answered == 0 {
                    std::thread::sleep(Duration::from_secs(120));
                    continue;
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {answered} X\r\nContent-Length: 13\r\nConnection: close\r\n\r\nresponse body"
                );
            }
        });
        Receiver { url, seen }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}
