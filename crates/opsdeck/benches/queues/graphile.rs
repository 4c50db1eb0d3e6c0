//! The graphile part of the queue benchmark.

pub async fn run() {
    println!("graphile: not measured yet");
}
