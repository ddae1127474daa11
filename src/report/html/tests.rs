use chrono::{DateTime, Days, NaiveDate};

use super::render;
use crate::report::stats::{Arm, compare};
use crate::report::{AbTest, Dashboard, Day, FollowThrough, PeriodOut, Row};

/// A row with counts; rates computed as `report::merge` does.
fn row(parts: &[&str], received: Option<i64>, sent: i64, emailed: i64, replied: i64) -> Row {
    let rate = |p: i64| (emailed > 0).then(|| p as f64 / emailed as f64);
    let positive = replied / 2;
    let meetings = replied / 3;
    Row {
        key: parts.join(" / "),
        parts: parts.iter().map(|p| p.to_string()).collect(),
        received,
        contacted: received.map(|r| r * 4 / 5),
        first_touch_median_secs: received.map(|_| 3900),
        first_touch_p90_secs: received.map(|_| 3 * 86_400 + 4 * 3600),
        touches_per_lead: received.map(|_| 2.5),
        sent,
        emailed,
        replied,
        reply_rate: rate(replied),
        positive,
        positive_rate: rate(positive),
        meetings,
        meeting_rate: rate(meetings),
        bounced: 1,
        bounce_rate: rate(1),
        unsubscribed: 0,
        unsubscribe_rate: rate(0),
    }
}

fn days(first: &str, n: u64, f: impl Fn(u64) -> (i64, i64)) -> Vec<Day> {
    let first = NaiveDate::parse_from_str(first, "%Y-%m-%d").unwrap();
    (0..n)
        .map(|i| {
            let (sent, replied) = f(i);
            Day {
                date: first.checked_add_days(Days::new(i)).unwrap(),
                sent,
                replied,
            }
        })
        .collect()
}

fn dashboard() -> Dashboard {
    Dashboard {
        period: PeriodOut {
            since: "2026-11-01T00:00:00-04:00".into(),
            until: "2026-12-01T00:00:00-05:00".into(),
            timezone: "America/New_York".into(),
        },
        title: "2026-11-01 to 2026-11-30 (America/New_York)".into(),
        reps: vec![
            row(&["ana"], Some(120), 410, 150, 18),
            row(&["ben"], Some(75), 260, 90, 7),
        ],
        sequences: vec![
            row(&["cold-outbound"], Some(140), 520, 170, 21),
            row(&["inbound-fast"], Some(55), 150, 70, 4),
        ],
        steps: vec![
            row(&["cold-outbound", "intro"], None, 200, 200, 12),
            row(&["cold-outbound", "bump"], None, 120, 120, 6),
            row(&["inbound-fast", "welcome"], None, 60, 60, 0),
        ],
        variants: vec![],
        ab_tests: vec![AbTest {
            sequence: "cold-outbound".into(),
            step: "intro".into(),
            comparison: compare(vec![Arm::new("a", 100, 4), Arm::new("b", 100, 8)]),
        }],
        follow_through: vec![
            FollowThrough {
                rep: "ana".into(),
                received: 120,
                never_contacted: 24,
                stopped_early: 3,
                tasks_overdue: 5,
            },
            FollowThrough {
                rep: "ben".into(),
                received: 75,
                never_contacted: 15,
                stopped_early: 0,
                tasks_overdue: 0,
            },
        ],
        days: days("2026-11-01", 30, |i| {
            if i % 7 == 0 {
                (0, 1)
            } else {
                (20 + i as i64, (i % 4) as i64)
            }
        }),
        generated_at: DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
            .unwrap()
            .into(),
    }
}

fn empty_dashboard() -> Dashboard {
    Dashboard {
        reps: vec![],
        sequences: vec![],
        steps: vec![],
        variants: vec![],
        ab_tests: vec![],
        follow_through: vec![],
        days: days("2026-11-01", 1, |_| (0, 0)),
        ..dashboard()
    }
}

/// Dashboards at the edges: nothing at all, only zeros, one rep, long names, a year of days,
/// an A/B test whose arm has no sends.
fn edge_cases() -> Vec<(&'static str, Dashboard)> {
    let long = "a-sequence-with-a-very-long-name-that-goes-on-and-on-".repeat(4);
    let mut zeros = dashboard();
    zeros.reps = vec![row(&["ana"], Some(0), 0, 0, 0)];
    zeros.sequences = vec![row(&["cold"], Some(0), 0, 0, 0)];
    zeros.steps = vec![row(&["cold", "intro"], None, 0, 0, 0)];
    zeros.follow_through = vec![FollowThrough {
        rep: "ana".into(),
        received: 0,
        never_contacted: 0,
        stopped_early: 0,
        tasks_overdue: 0,
    }];
    zeros.days = days("2026-11-01", 30, |_| (0, 0));
    zeros.ab_tests = vec![AbTest {
        sequence: "cold".into(),
        step: "intro".into(),
        comparison: compare(vec![Arm::new("a", 0, 0), Arm::new("b", 0, 0)]),
    }];
    let mut long_names = dashboard();
    long_names.sequences[0] = row(&[&long], Some(3), 3, 3, 3);
    long_names.steps = vec![row(&[&long, &long], None, 1, 1, 1)];
    long_names.follow_through[0].rep = long.clone();
    long_names.ab_tests[0].comparison = compare(vec![Arm::new(&long, 1, 1), Arm::new("b", 0, 0)]);
    let mut year = dashboard();
    year.days = days("2026-01-01", 365, |i| ((i % 50) as i64, (i % 3) as i64));
    let mut decade = dashboard();
    decade.days = days("2020-01-01", 3653, |i| ((i % 9) as i64, 0));
    let mut one_rep = dashboard();
    one_rep.reps.truncate(1);
    one_rep.follow_through.truncate(1);
    vec![
        ("full", dashboard()),
        ("empty", empty_dashboard()),
        ("zeros", zeros),
        ("long names", long_names),
        ("365 days", year),
        ("ten years", decade),
        ("one rep", one_rep),
    ]
}

/// Each `<svg>…</svg>` of a page.
fn svgs(page: &str) -> Vec<&str> {
    page.match_indices("<svg")
        .map(|(start, _)| {
            let end = page[start..].find("</svg>").expect("every <svg> is closed") + start + 6;
            &page[start..end]
        })
        .collect()
}

/// Every opened SVG element is closed in order (no broken drawing).
fn assert_balanced(svg: &str, case: &str) {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find('<') {
        let end = rest[i..].find('>').expect("a tag ends") + i;
        let tag = &rest[i + 1..end];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                open.pop(),
                Some(name),
                "{case}: </{name}> closes the wrong element"
            );
        } else if !tag.ends_with('/') {
            open.push(tag.split_whitespace().next().unwrap_or(""));
        }
        rest = &rest[end + 1..];
    }
    assert!(open.is_empty(), "{case}: left open: {open:?}");
}

/// The values of attributes that hold numbers in an SVG.
fn numbers(svg: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for attr in [
        "x", "y", "x1", "y1", "x2", "y2", "width", "height", "viewBox",
    ] {
        let pat = format!(" {attr}=\"");
        for (i, _) in svg.match_indices(&pat) {
            let start = i + pat.len();
            let end = svg[start..].find('"').unwrap() + start;
            out.push((attr.to_string(), svg[start..end].to_string()));
        }
    }
    out
}

#[test]
fn the_page_loads_nothing_from_elsewhere() {
    for (case, d) in edge_cases() {
        let page = render(&d);
        for bad in [
            "<script", "http://", "https://", "<link", "<img", "@import", "url(", " src=",
        ] {
            assert!(!page.contains(bad), "{case}: the page contains {bad:?}");
        }
    }
}

#[test]
fn names_from_user_files_are_escaped() {
    let mut d = dashboard();
    let evil = "<script>alert('x')</script> & \"quoted\"";
    d.sequences[0] = row(&[evil], Some(5), 5, 5, 1);
    d.steps[0] = row(&[evil, "<b>step</b>"], None, 5, 5, 1);
    d.reps[0] = row(&["\"><svg onload=alert(1)>"], Some(1), 1, 1, 0);
    d.follow_through[0].rep = "\"><svg onload=alert(1)>".into();
    d.ab_tests[0].sequence = evil.into();
    d.ab_tests[0].comparison = compare(vec![Arm::new("<i>a</i>", 10, 1), Arm::new("b", 10, 2)]);
    d.title = "<script>".into();
    let page = render(&d);
    assert!(!page.contains("<script"), "a name became a script");
    assert!(!page.contains("<svg onload"), "a name became an element");
    assert!(!page.contains("<b>step") && !page.contains("<i>a"));
    assert!(
        page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;")
    );
    for svg in svgs(&page) {
        assert_balanced(svg, "escaped names");
    }
}

#[test]
fn every_svg_number_is_finite_and_every_drawing_whole() {
    for (case, d) in edge_cases() {
        let page = render(&d);
        assert!(!page.contains("NaN") && !page.contains("inf\""), "{case}");
        let svgs = svgs(&page);
        assert_eq!(svgs.len(), page.matches("</svg>").count(), "{case}");
        for svg in svgs {
            assert_balanced(svg, case);
            assert!(svg.contains("role=\"img\"") && svg.contains("aria-label=\""));
            assert!(svg.contains("<title>"), "{case}: an SVG without a title");
            let numbers = numbers(svg);
            assert!(!numbers.is_empty());
            for (attr, value) in numbers {
                for part in value.split_whitespace() {
                    let v: f64 = part
                        .parse()
                        .unwrap_or_else(|_| panic!("{case}: {attr}={value:?} is not a number"));
                    assert!(v.is_finite(), "{case}: {attr}={value:?}");
                    if attr == "width" || attr == "height" {
                        assert!(v >= 0.0, "{case}: {attr}={value:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn an_empty_dashboard_says_there_is_nothing() {
    let page = render(&empty_dashboard());
    assert!(page.starts_with("<!doctype html>") && page.ends_with("</html>\n"));
    assert!(page.contains("No sequence had any activity in this period."));
    assert!(page.contains("No step sent anything in this period."));
    assert!(page.contains("No step sent two variants or more in this period."));
    assert!(page.contains("No rep received leads in this period."));
    assert!(page.contains("none in this period"));
    // Only the daily chart, which always has the period's days.
    assert_eq!(svgs(&page).len(), 1);
}

#[test]
fn the_numbers_shown_are_the_rows_numbers() {
    let d = dashboard();
    let page = render(&d);
    // The tables: the text report's cells, in its order.
    assert!(page.contains(
        "<tr><th scope=\"row\">ana</th><td>120</td><td>96</td><td>1h 05m</td><td>3d 4h</td>\
         <td>2.5</td><td>410</td><td>150</td><td>18</td><td>12.0%</td><td>9</td><td>6</td>\
         <td>1</td><td>0.7%</td><td>0</td><td>0.0%</td></tr>"
    ));
    assert!(page.contains("<tr><th scope=\"row\">inbound-fast</th><td>55</td><td>44</td>"));
    // The funnel of cold-outbound: enrolled, contacted (of enrolled), replied (of emailed).
    let funnel = svgs(&page)[0];
    assert!(funnel.contains("aria-label=\"Funnel of sequence cold-outbound\""));
    for text in [
        ">140<",
        ">112<",
        ">80.0% of enrolled<",
        ">21<",
        ">12.4% of emailed<",
        ">10<",
        ">7<",
    ] {
        assert!(funnel.contains(text), "funnel lacks {text}");
    }
    // Steps in the order given, with their rates.
    let intro = page.find("6.0% · 12 of 200 emailed").expect("intro's rate");
    let bump = page.find("5.0% · 6 of 120 emailed").expect("bump's rate");
    assert!(intro < bump);
    assert!(page.contains("0.0% · 0 of 60 emailed"));
    // The A/B test: both arms, their intervals' whiskers, the verdict word for word.
    assert!(page.contains("8.0% · 8 of 100") && page.contains("4.0% · 4 of 100"));
    assert!(page.contains(&d.ab_tests[0].comparison.verdict));
    // Days: every day is drawn, zero days too; the totals.
    assert!(page.contains("Sun 2026-11-01: 0 sent"));
    assert!(page.contains("Mon 2026-11-30: 49 sent"));
    let sent: i64 = d.days.iter().map(|x| x.sent).sum();
    assert!(page.contains(&format!("{} emails sent", super::count(sent))));
    // Follow-through with shares of received.
    assert!(page.contains(">24 · 20.0%<") && page.contains(">5<"));
}

#[test]
fn a_long_period_is_labelled_by_month() {
    let mut d = dashboard();
    d.days = days("2026-01-01", 365, |_| (1, 0));
    let page = render(&d);
    assert!(page.contains(">Jan 2026<") && page.contains(">Jul<"));
    assert!(!page.contains(">Jan 2<"));
}
