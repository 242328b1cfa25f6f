//! The real `browser-control serve` binary as a child process: started on port 0, its address
//! read from its first line, killed (SIGKILL or SIGTERM) by the test, and killed at drop.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct ServeProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub pid: u32,
}

impl ServeProcess {
    /// `serve --listen 127.0.0.1:0` plus `args`; waits (generously) for `listening on`.
    pub async fn start(args: &[&str]) -> ServeProcess {
        Self::start_with_stderr(args, Stdio::inherit()).await
    }

    /// [`ServeProcess::start`] with its log (stderr) written to `log`.
    pub async fn start_logged(args: &[&str], log: &std::path::Path) -> ServeProcess {
        let file = std::fs::File::create(log).expect("the log file");
        Self::start_with_stderr(args, Stdio::from(file)).await
    }

    async fn start_with_stderr(args: &[&str], stderr: Stdio) -> ServeProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_browser-control"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .expect("the binary starts");
        let pid = child.id().expect("a pid");
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(90), stdout.next_line())
            .await
            .expect("serve is ready within 90 s")
            .unwrap()
            .unwrap_or_else(|| panic!("serve {args:?} exited before listening"));
        let addr: SocketAddr = line
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("{line}"))
            .parse()
            .unwrap();
        // The rest of stdout (the store line) is drained so the child never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
        ServeProcess { child, addr, pid }
    }

    pub fn signal(&self, signal: i32) {
        unsafe { libc::kill(self.pid as i32, signal) };
    }

    /// `kill -9`, and waits for the process to be gone.
    pub async fn kill9(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("a killed server is gone within 30 s");
    }

    /// SIGTERM, and its exit status.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        self.signal(libc::SIGTERM);
        tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("the server exits within 60 s of SIGTERM")
            .unwrap()
    }
}

/// Whether a process is gone (or a zombie waiting for its parent).
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}
