//! Criterion benchmark of the KIS real-time codec: multi-record H0STCNT0 and H0STASP0 frames
//! parsed into typed events, the path the feed takes: `parse_frame`, then `Decoder::decode`,
//! which hands the frame's events out in one owned batch (the vector the feed sends on the
//! market channel), then the batch dropped as its consumer drops it. Throughput is reported in
//! records per second.

use std::hint::black_box;

use aegis::kis::ws::codec::{Decoder, Frame, parse_frame};
use chrono::NaiveDate;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const TRADE: &str = "005930^093354^71900^5^-100^-0.14^72023.83^72100^72400^71700^71900^71800^1^3052507^219853241700^5105^6937^1832^84.90^1366314^1159996^1^0.39^20.28^090020^5^-200^090820^5^-500^092619^2^200^20230612^20^N^65945^216924^1118750^2199206^0.05^2424142^125.92^0^^72100";
const BOOK: &str = "005930^093730^0^71900^72000^72100^72200^72300^72400^72500^72600^72700^72800^71800^71700^71600^71500^71400^71300^71200^71100^71000^70900^91918^117942^92673^79708^106729^141988^176192^113906^134077^104229^95221^159371^220746^284657^212742^195370^182710^209747^376432^158171^1159362^2095167^0^0^0^0^525579^-72000^5^-100.00^3159115^0^8^0^0^0";
const RECORDS: usize = 10;

fn frame(tr: &str, record: &str) -> String {
    format!("0|{tr}|{RECORDS:03}|{}", [record; RECORDS].join("^"))
}

fn bench_channel(c: &mut Criterion, name: &str, text: &str) {
    let date = NaiveDate::from_ymd_opt(2023, 6, 12).unwrap_or_default();
    let mut decoder = Decoder::new(date, None);
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function(name, |b| {
        b.iter(|| match parse_frame(black_box(text)) {
            Ok(Frame::Data(f)) => decoder.decode(&f).map(|d| black_box(d.records).len()).unwrap_or(0),
            _ => 0,
        });
    });
    group.finish();
}

fn codec(c: &mut Criterion) {
    bench_channel(c, "H0STCNT0_x10", &frame("H0STCNT0", TRADE));
    bench_channel(c, "H0STASP0_x10", &frame("H0STASP0", BOOK));
}

criterion_group!(benches, codec);
criterion_main!(benches);
