mod common;
use std::time::Duration;
use browser_control::browser::{BrowserInstance, BrowserSource, LaunchOptions};
use chromiumoxide::cdp::browser_protocol::page::*;
use futures::StreamExt;
use common::*;

#[test]
fn scratch() {
    block_on(async {
        let inst = BrowserInstance::start("x", BrowserSource::Launch(LaunchOptions::default())).await.unwrap();
        let (page, _) = inst.page().await.unwrap();
        let mut stopped = page.event_listener::<EventFrameStoppedLoading>().await.unwrap();
        let mut life = page.event_listener::<EventLifecycleEvent>().await.unwrap();
        let mut load = page.event_listener::<EventLoadEventFired>().await.unwrap();
        let p2 = page.clone();
        let u = url("image-never.html");
        let nav = tokio::spawn(async move { let r = p2.execute(NavigateParams::new(u)).await; println!("first navigate done: {:?}", r.map(|r| r.result.error_text)); });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        println!("sending stopLoading");
        let r = page.execute(StopLoadingParams::default()).await;
        println!("stopLoading: {:?}", r.is_ok());
        let t0 = std::time::Instant::now();
        while t0.elapsed() < Duration::from_secs(2) {
            tokio::select! {
                Some(e) = stopped.next() => println!("frameStoppedLoading {:?}", e.frame_id),
                Some(e) = life.next() => println!("lifecycle {}", e.name),
                Some(_) = load.next() => println!("loadEventFired"),
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        println!("nav finished: {}", nav.is_finished());
        let rs = page.evaluate("document.readyState").await.unwrap().into_value::<String>().unwrap();
        println!("readyState {rs}");
        let t0 = std::time::Instant::now();
        page.evaluate("location.replace('about:blank')").await.unwrap();
        loop {
            tokio::select! {
                Some(e) = life.next() => { println!("lifecycle after replace {} at {:?}", e.name, t0.elapsed()); if e.name == "load" { break } },
                _ = tokio::time::sleep(Duration::from_millis(2000)) => { println!("no load"); break }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        println!("nav finished after replace: {}", nav.is_finished());
        let r = tokio::time::timeout(Duration::from_secs(5), page.execute(NavigateParams::new(url("index.html")))).await;
        println!("second navigate: {:?} at {:?}", r.map(|r| r.map(|r| r.result.error_text)), t0.elapsed());
        inst.close().await;
    });
}
