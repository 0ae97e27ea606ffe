//! Runs a test server until killed, printing its kubeconfig path (for poking at it with kubectl).

fn main() {
    let server = testserver::TestServer::start();
    println!("{}", server.kubeconfig().display());
    std::thread::park();
}
