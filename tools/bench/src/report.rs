//! The benchmark report: one row per figure, printed and written as Markdown.

pub struct Report {
    rows: Vec<[String; 5]>,
}

impl Report {
    pub fn new() -> Self {
        Report { rows: Vec::new() }
    }

    pub fn add(
        &mut self,
        what: &str,
        value: String,
        baseline: String,
        ratio: String,
        target: &str,
    ) {
        println!("{what}: {value} | {baseline} | ratio {ratio} | target {target}");
        self.rows
            .push([what.to_string(), value, baseline, ratio, target.to_string()]);
    }

    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "| figure | skiff | baseline (same run) | ratio | target |\n|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                r[0], r[1], r[2], r[3], r[4]
            ));
        }
        out
    }

    pub fn print(&self) {
        println!("\n{}", self.markdown());
    }
}
