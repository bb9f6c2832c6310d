import AlignReport
import Foundation
import Testing

@Suite struct ModelCardTests {
    private func card(base: String, hub: Bool) -> ModelCard {
        ModelCard(method: "dpo", baseModel: base, baseModelIsHubID: hub, datasets: [("org/pairs", true), ("local.jsonl", false)],
                  arguments: ["/usr/bin/align", "dpo", "--model", base, "--beta", "0.1", "--output", "it's here"],
                  metrics: ["loss": 0.693147, "step": 3, "rewards/accuracies": 0.5, "grad_norm": .nan],
                  modelName: "out", version: "0.1.0")
    }

    @Test func frontMatterIsWhatTheHubReads() {
        let text = card(base: "org/tiny", hub: true).markdown()
        let front = text.components(separatedBy: "---\n")[1]
        #expect(front == """
            base_model: "org/tiny"
            datasets:
            - "org/pairs"
            library_name: transformers
            model_name: "out"
            pipeline_tag: text-generation
            tags:
            - "align"
            - "dpo"
            - "trl-compatible"

            """)
        #expect(text.hasPrefix("---\n"))
    }

    @Test func localPathsStayOutOfTheMetadata() {
        let text = card(base: "/models/tiny", hub: false).markdown()
        #expect(!text.contains("base_model:"))
        #expect(text.contains("fine-tuned version of `/models/tiny` on [org/pairs](https://huggingface.co/datasets/org/pairs) and `local.jsonl`"))
    }

    @Test func bodyHasTheCommandAndTheFinalMetrics() {
        let text = card(base: "org/tiny", hub: true).markdown()
        #expect(text.contains("align dpo --model org/tiny --beta 0.1 --output 'it'\\''s here'"))
        #expect(text.contains("| loss | 0.693147 |"))
        #expect(text.contains("| step | 3 |"))
        #expect(text.contains("| grad_norm | nan |"))
        #expect(text.contains("[Direct Preference Optimization"))
    }

    @Test func rewardModelsAreClassifiers() {
        var c = card(base: "org/tiny", hub: true)
        c.method = "reward"
        #expect(c.markdown().contains("pipeline_tag: text-classification"))
    }

    @Test func diffusionDPOFoldersAreDiffusersUNets() {
        var c = card(base: "runs/ddpm", hub: false)
        c.method = "diffusion-dpo"
        let text = c.markdown()
        #expect(text.contains("library_name: diffusers"))
        #expect(!text.contains("library_name: transformers"))
        #expect(text.contains("pipeline_tag: unconditional-image-generation"))
        #expect(text.contains("UNet2DModel.from_pretrained"))
        #expect(!text.contains("pipeline(\"text-generation\""))
        #expect(text.contains("[Diffusion Model Alignment Using Direct Preference Optimization]"))
    }
}
