import Foundation

/// The `README.md` a training command writes into its output folder, shaped like the model card TRL
/// writes: YAML front matter the Hugging Face Hub reads, then what was trained from what, the command
/// line, and the final metrics.
///
/// Metadata choices, so the folder uploads cleanly: `library_name: transformers`, because the folder
/// is a transformers checkpoint (the Hub's "Use this model" snippet and download counter key on it;
/// `align` is not a library the Hub knows); the method and `align` go in `tags` with
/// `trl-compatible` (TRL tags its cards `trl` plus the method). `base_model` and `datasets` are
/// written only when they were given as Hub ids: the Hub rejects a `base_model` that is not a repo
/// id, and a local path means nothing there (the body names it instead).
public struct ModelCard: Sendable {
    /// The training method as the command is named: dpo, sft, kto or reward.
    public var method: String
    /// The model trained from, as given (a path or a Hub id).
    public var baseModel: String
    /// Whether ``baseModel`` is a Hub id (it then becomes `base_model`).
    public var baseModelIsHubID: Bool
    /// The training data, as given, with whether each is a Hub dataset id.
    public var datasets: [(name: String, isHubID: Bool)]
    /// The command line, one argument per element (argument 0 is shown as `align`).
    public var arguments: [String]
    /// The metrics of the last logged row (and of the last evaluation).
    public var metrics: [String: Double]
    /// The folder's name, used as the card's title.
    public var modelName: String
    /// Align's version.
    public var version: String

    public init(method: String, baseModel: String, baseModelIsHubID: Bool, datasets: [(name: String, isHubID: Bool)],
                arguments: [String], metrics: [String: Double], modelName: String, version: String) {
        self.method = method
        self.baseModel = baseModel
        self.baseModelIsHubID = baseModelIsHubID
        self.datasets = datasets
        self.arguments = arguments
        self.metrics = metrics
        self.modelName = modelName
        self.version = version
    }

    /// Whether the folder is a diffusers UNet (`align diffusion-dpo`) rather than a transformers model.
    public var isDiffusion: Bool { method.hasPrefix("diffusion") }

    /// The Hub's pipeline for the saved folder: a reward model is a sequence classifier, a diffusers
    /// UNet2DModel an image generator.
    public var pipelineTag: String {
        if isDiffusion { return "unconditional-image-generation" }
        return method == "reward" ? "text-classification" : "text-generation"
    }

    private var methodDescription: (name: String, paper: String, link: String)? {
        switch method {
        case "dpo": return ("DPO", "Direct Preference Optimization: Your Language Model is Secretly a Reward Model", "https://huggingface.co/papers/2305.18290")
        case "kto": return ("KTO", "KTO: Model Alignment as Prospect Theoretic Optimization", "https://huggingface.co/papers/2402.01306")
        case "sft": return ("SFT", "", "")
        case "reward": return ("reward modelling (Bradley–Terry)", "Training language models to follow instructions with human feedback", "https://huggingface.co/papers/2203.02155")
        case "ppo": return ("PPO", "Fine-Tuning Language Models from Human Preferences", "https://huggingface.co/papers/1909.08593")
        case "grpo": return ("GRPO", "DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open Language Models", "https://huggingface.co/papers/2402.03300")
        case "rloo": return ("RLOO", "Back to Basics: Revisiting REINFORCE Style Optimization for Learning from Human Feedback in LLMs", "https://huggingface.co/papers/2402.14740")
        case "diffusion-dpo": return ("Diffusion-DPO", "Diffusion Model Alignment Using Direct Preference Optimization", "https://huggingface.co/papers/2311.12908")
        default: return nil
        }
    }

    /// The card as Markdown with YAML front matter.
    public func markdown() -> String {
        var yaml = ["---"]
        if baseModelIsHubID { yaml.append("base_model: \(yamlString(baseModel))") }
        let hubDatasets = datasets.filter(\.isHubID).map(\.name)
        if !hubDatasets.isEmpty {
            yaml.append("datasets:")
            yaml += hubDatasets.map { "- \(yamlString($0))" }
        }
        yaml.append(isDiffusion ? "library_name: diffusers" : "library_name: transformers")
        yaml.append("model_name: \(yamlString(modelName))")
        yaml.append("pipeline_tag: \(pipelineTag)")
        yaml.append("tags:")
        yaml += ["align", method, "trl-compatible"].map { "- \(yamlString($0))" }
        yaml.append("---")

        var body: [String] = ["", "# Model Card for \(modelName)", ""]
        let base = baseModelIsHubID ? "[\(baseModel)](https://huggingface.co/\(baseModel))" : "`\(baseModel)`"
        let data = datasets.map { $0.isHubID ? "[\($0.name)](https://huggingface.co/datasets/\($0.name))" : "`\($0.name)`" }
        body.append("This model is a fine-tuned version of \(base)" + (data.isEmpty ? "" : " on \(data.joined(separator: " and "))") + ".")
        body.append(isDiffusion
            ? "It was trained with Align (`align \(method)`), which saves a diffusers `UNet2DModel` folder with its `scheduler_config.json`."
            : "It was trained with Align (`align \(method)`), which logs TRL's metric names and saves a transformers folder.")
        body += ["", "## Quick start", "", "```python"]
        if isDiffusion {
            body += ["import torch", "from diffusers import DDPMScheduler, UNet2DModel", "",
                     "unet = UNet2DModel.from_pretrained(\"\(modelName)\")",
                     "scheduler = DDPMScheduler.from_pretrained(\"\(modelName)\")",
                     "x = torch.randn(1, unet.config.in_channels, unet.config.sample_size, unet.config.sample_size)",
                     "labels = torch.tensor([0]) if unet.config.num_class_embeds else None",
                     "for t in scheduler.timesteps:",
                     "    x = scheduler.step(unet(x, t, class_labels=labels).sample, t, x).prev_sample"]
        } else if method == "reward" {
            body += ["from transformers import pipeline", "", "scorer = pipeline(\"text-classification\", model=\"\(modelName)\")",
                     "print(scorer(\"The movie was wonderful.\"))"]
        } else {
            body += ["from transformers import pipeline", "", "generator = pipeline(\"text-generation\", model=\"\(modelName)\")",
                     "print(generator([{\"role\": \"user\", \"content\": \"Hello!\"}], max_new_tokens=64, return_full_text=False)[0][\"generated_text\"])"]
        }
        body += ["```", "", "## Training procedure", ""]
        if let d = methodDescription {
            body.append(d.paper.isEmpty ? "This model was trained with \(d.name)." : "This model was trained with \(d.name), a method introduced in [\(d.paper)](\(d.link)).")
            body.append("")
        }
        body += ["Command:", "", "```sh", shellCommand, "```", "", "### Final metrics", ""]
        if metrics.isEmpty {
            body.append("No metrics were logged.")
        } else {
            body += ["| metric | value |", "| --- | --- |"]
            for key in metrics.keys.sorted() { body.append("| \(key) | \(format(metrics[key]!)) |") }
        }
        body += ["", "### Framework versions", "", "- Align: \(version)", ""]
        return (yaml + body).joined(separator: "\n")
    }

    /// The arguments as one line a POSIX shell reads back to the same arguments.
    public var shellCommand: String {
        (["align"] + arguments.dropFirst()).map { arg in
            let safe = !arg.isEmpty && arg.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_./=:,@%+".unicodeScalars.contains($0)) }
            return safe ? arg : "'" + arg.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }.joined(separator: " ")
    }

    private func format(_ x: Double) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x > 0 ? "inf" : "-inf" }
        if x == x.rounded() && abs(x) < 1e15 { return String(Int64(x)) }
        return String(format: "%.6g", x)
    }

    /// A double-quoted YAML scalar (the JSON escapes are valid YAML), so no value is read as
    /// another type (`yes`, `1e3`) or breaks the front matter.
    private func yamlString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04X", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}
