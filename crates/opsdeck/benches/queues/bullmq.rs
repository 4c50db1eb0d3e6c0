//! The bullmq part of the queue benchmark.

pub async fn run() {
    println!("bullmq: not measured yet");
}
