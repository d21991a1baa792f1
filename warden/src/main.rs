fn main() {
    eprintln!("warden: no commands yet");
    std::process::exit(2);
}
