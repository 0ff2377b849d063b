//! The service under test as a child process: its binary (built by cargo for this run), its
//! configuration file, its start-up (until gRPC health answers SERVING) and its stop (SIGTERM).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use meeting_service::config::{LogFormat, Settings};
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::{health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest};

use crate::system::{terminate, vm_mb};

pub(crate) struct Service {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    pub(crate) cold_start: Duration,
}

impl Service {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn vm(&self, key: &str) -> Option<f64> {
        vm_mb(&self.pid().to_string(), key)
    }

    /// SIGTERM, then (after 10 s) SIGKILL.
    pub(crate) async fn stop(mut self) {
        terminate(self.child.id());
        for _ in 0..1000 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub(crate) async fn channels(&self, n: usize) -> Vec<Channel> {
        let mut channels = Vec::with_capacity(n);
        for _ in 0..n {
            let endpoint = Endpoint::from_shared(format!("http://{}", self.addr)).expect("endpoint");
            channels.push(endpoint.tcp_nodelay(true).connect().await.expect("connect to the service"));
        }
        channels
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub(crate) struct Spawner {
    pub(crate) bin: PathBuf,
    pub(crate) dir: PathBuf,
    pub(crate) log_filter: Option<String>,
    pub(crate) logs: Option<PathBuf>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) count: usize,
}

impl Spawner {
    /// Writes the settings as TOML, spawns the service, and waits for SERVING.
    pub(crate) async fn spawn(&mut self, mut settings: Settings) -> Service {
        self.count += 1;
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        settings.server.listen = addr;
        // The production log configuration (JSON), not dev mode's text.
        settings.log.format = LogFormat::Json;
        if let Some(filter) = &self.log_filter {
            settings.log.filter = filter.clone();
        }
        settings.validate().expect("benchmark settings are valid");
        let config = self.dir.join(format!("config-{}.toml", self.count));
        std::fs::write(&config, toml::to_string(&settings).expect("settings as TOML")).expect("write config");
        let (stdout, stderr) = match &self.logs {
            Some(dir) => {
                std::fs::create_dir_all(dir).expect("log directory");
                let file = |ext: &str| {
                    std::fs::File::create(dir.join(format!("service-{}.{ext}", self.count))).expect("log file")
                };
                (Stdio::from(file("stdout")), Stdio::from(file("stderr")))
            }
            None => {
                let file = std::fs::File::create(self.dir.join(format!("service-{}.stderr", self.count)));
                (Stdio::null(), file.map_or_else(|_| Stdio::null(), Stdio::from))
            }
        };
        let spawned = Instant::now();
        let child = Command::new(&self.bin)
            .arg("--config")
            .arg(&config)
            .env_remove("RUST_LOG")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        let mut service = Service { child, addr, cold_start: Duration::ZERO };
        let url = format!("http://{addr}");
        loop {
            if let Ok(Some(status)) = service.child.try_wait() {
                panic!("the service exited during start-up ({status}); see {}", self.dir.display());
            }
            if spawned.elapsed() > Duration::from_secs(20) {
                panic!("the service did not answer SERVING within 20 s; see {}", self.dir.display());
            }
            if serving(&url).await {
                service.cold_start = spawned.elapsed();
                return service;
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    }
}

async fn serving(url: &str) -> bool {
    let Ok(endpoint) = Endpoint::from_shared(url.to_owned()) else { return false };
    let Ok(channel) = endpoint.connect_timeout(Duration::from_millis(100)).connect().await else { return false };
    let mut health = HealthClient::new(channel);
    let check = health.check(HealthCheckRequest { service: String::new() });
    matches!(tokio::time::timeout(Duration::from_millis(500), check).await,
        Ok(Ok(reply)) if reply.get_ref().status == ServingStatus::Serving as i32)
}

/// The service binary to measure: `explicit` (`--service-bin`) as given, else this workspace's
/// `meeting-service` built now, in the profile this benchmark was built with (`bench`, that is
/// `release`'s settings, under `cargo bench`; `test` under `cargo test`), next to the benchmark's
/// own build. Cargo builds a package's binaries only for that package's own benchmarks, and the
/// service is another package of the workspace: building it here means a run never measures a
/// stale binary.
pub(crate) fn service_binary(explicit: Option<&Path>) -> PathBuf {
    if let Some(bin) = explicit {
        return bin.to_owned();
    }
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let build = BuildDir::of(&exe).unwrap_or_else(|| panic!("{} is not in a cargo target directory", exe.display()));
    // The `CARGO` of the `cargo bench` / `cargo test` that started this benchmark: the same toolchain.
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // `--benches` (the service's micro-benchmarks) makes cargo resolve features as for a
    // benchmark, dev-dependencies included, as the command that built this one did: the service's
    // library and its dependencies are then the ones already built, and only the binary is linked.
    // A plain `cargo build` of the binary would rebuild most of the dependency tree with other
    // features (e.g. tokio without `test-util`).
    cargo
        .args(["build", "--package", "meeting-service", "--bin", "meeting-service", "--benches"])
        .args(["--profile", &build.profile])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml"))
        .arg("--target-dir")
        .arg(&build.target_dir)
        .stdin(Stdio::null());
    if let Some(triple) = &build.triple {
        cargo.args(["--target", triple]);
    }
    // Cargo gave this process the variables of the benchmark's package (`CARGO_PKG_NAME`,
    // `CARGO_MANIFEST_DIR`, ...). Build scripts watch some of them (ring's `rerun-if-env-changed`),
    // so passing them on would rebuild those crates here, and again in the next `cargo bench`.
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_for_the_benchmark) {
            cargo.env_remove(name);
        }
    }
    eprintln!(
        "==> building the service: cargo build -p meeting-service --bin meeting-service --profile {}",
        build.profile
    );
    let status = cargo.status().expect("cargo runs");
    assert!(status.success(), "cargo could not build the service ({status})");
    build.profile_dir.join("meeting-service")
}

/// Whether `name` is one of the variables cargo sets for a test or benchmark it runs (not for a
/// `cargo` it runs: `CARGO`, `CARGO_HOME`, `CARGO_TARGET_DIR` and the like are kept).
fn set_by_cargo_for_the_benchmark(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || [
            "CARGO_MANIFEST_DIR",
            "CARGO_MANIFEST_PATH",
            "CARGO_MANIFEST_LINKS",
            "CARGO_CRATE_NAME",
            "CARGO_BIN_NAME",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "CARGO_RUSTC_CURRENT_DIR",
            "OUT_DIR",
        ]
        .contains(&name)
}

/// Where cargo put a benchmark executable: `<target dir>[/<triple>]/<profile dir>/deps/<exe>`.
#[derive(Debug, PartialEq)]
struct BuildDir {
    target_dir: PathBuf,
    triple: Option<String>,
    profile_dir: PathBuf,
    /// The cargo profile that built the benchmark: `test` writes to `debug` (`cargo test`),
    /// `bench` to `release` (`cargo bench`); other profiles write to a directory of their name.
    /// Dependencies are built per profile, so the service is built in the same one.
    profile: String,
}

impl BuildDir {
    fn of(exe: &Path) -> Option<BuildDir> {
        let profile_dir = exe.parent().filter(|deps| deps.ends_with("deps"))?.parent()?;
        let profile = match profile_dir.file_name()?.to_str()? {
            "debug" => "test".to_owned(),
            "release" => "bench".to_owned(),
            name => name.to_owned(),
        };
        let above = profile_dir.parent()?;
        // Cargo marks the root of every target directory with CACHEDIR.TAG; below it, a directory
        // named after a target triple when the build had `--target`.
        let (target_dir, triple) = if above.join("CACHEDIR.TAG").exists() {
            (above.to_owned(), None)
        } else {
            (above.parent()?.to_owned(), Some(above.file_name()?.to_str()?.to_owned()))
        };
        Some(BuildDir { target_dir, triple, profile_dir: profile_dir.to_owned(), profile })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_directory_names_the_profile_and_the_target_triple() {
        let root = std::env::temp_dir().join(format!("loadgen-build-dir-{}", std::process::id()));
        std::fs::create_dir_all(root.join("target")).unwrap();
        std::fs::write(root.join("target/CACHEDIR.TAG"), "Signature: 8a477f597d28d172789f06886806bc55").unwrap();
        let target = root.join("target");

        let bench = BuildDir::of(&target.join("release/deps/loadgen-0123abcd")).unwrap();
        assert_eq!(bench.profile, "bench");
        assert_eq!((bench.target_dir.as_path(), bench.triple.as_deref()), (target.as_path(), None));
        assert_eq!(bench.profile_dir, target.join("release"));
        assert_eq!(BuildDir::of(&target.join("debug/deps/loadgen-0123abcd")).unwrap().profile, "test");
        assert_eq!(BuildDir::of(&target.join("profiling/deps/loadgen-0123abcd")).unwrap().profile, "profiling");

        let cross = BuildDir::of(&target.join("x86_64-unknown-linux-gnu/release/deps/loadgen-0123abcd")).unwrap();
        assert_eq!(cross.triple.as_deref(), Some("x86_64-unknown-linux-gnu"));
        assert_eq!((cross.target_dir, cross.profile), (target.clone(), "bench".to_owned()));

        assert_eq!(BuildDir::of(&target.join("release/loadgen")), None, "not under deps/");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
