import AlignJSON
import AlignTensor
import AlignTraining
import Foundation
import Testing
import TestSupport

/// The online objectives' rollout arithmetic against TRL's code (Tests/Fixtures/online/rollout_math.json,
/// made by scripts/fixtures/make_online_goldens.py): PPO's KL, rewards, GAE, whitening and returns
/// with trl 1.12's helpers; RLOO and GRPO advantages as TRL 1.16 computes them. Within 1e-5.
@Suite struct OnlineRolloutTests {
    static func floats(_ v: Any?) -> [Float] { (v as! [NSNumber]).map { $0.floatValue } }

    @Test func ppoRolloutMatchesTRL() throws {
        let golden = try Objectives.json("online/rollout_math.json")
        for case let c as [String: Any] in golden["ppo"] as! [Any] {
            let rows = c["rows"] as! Int, width = c["width"] as! Int
            let input = RolloutMath.PPOInput(rows: rows, width: width, logprobs: Self.floats(c["logprobs"]), refLogprobs: Self.floats(c["ref_logprobs"]),
                                             values: Self.floats(c["values"]), scores: Self.floats(c["scores"]),
                                             sequenceLengths: (c["sequence_lengths"] as! [NSNumber]).map(\.intValue))
            let out = RolloutMath.ppo(input, klCoef: (c["kl_coef"] as! NSNumber).floatValue,
                                      estimator: KLEstimator(rawValue: c["kl_estimator"] as! String)!,
                                      gamma: (c["gamma"] as! NSNumber).floatValue, lam: (c["lam"] as! NSNumber).floatValue,
                                      whitenRewards: c["whiten_rewards"] as! Bool)
            let e = c["expected"] as! [String: Any]
            expectClose(out.kl, Self.floats(e["kl"]), atol: 1e-5, rtol: 1e-5)
            expectClose(out.nonScoreReward, Self.floats(e["non_score_reward"]), atol: 1e-5, rtol: 1e-5)
            expectClose(out.rewards, Self.floats(e["rewards"]), atol: 1e-5, rtol: 1e-5)
            expectClose(out.values, Self.floats(e["values"]), atol: 1e-5, rtol: 1e-5)
            expectClose(out.returns, Self.floats(e["returns"]), atol: 1e-5, rtol: 1e-5)
            expectClose(out.advantages, Self.floats(e["advantages"]), atol: 1e-5, rtol: 1e-5)
        }
    }

    @Test func groupAdvantagesMatchTRL() throws {
        let golden = try Objectives.json("online/rollout_math.json")
        for case let c as [String: Any] in golden["groups"] as! [Any] {
            let G = c["group_size"] as! Int
            let rewards = Self.floats(c["rewards"])
            expectClose(RolloutMath.rlooAdvantages(rewards, groupSize: G), Self.floats(c["rloo"]), atol: 1e-5, rtol: 1e-5)
            for (scaling, key) in [(RewardScaling.group, "grpo_group"), (.batch, "grpo_batch"), (.none, "grpo_none")] {
                let (a, std) = RolloutMath.grpoAdvantages(rewards, groupSize: G, scaling: scaling)
                expectClose(a, Self.floats(c[key]), atol: 1e-5, rtol: 1e-5)
                expectClose(std, Self.floats(c["group_std"]), atol: 1e-5, rtol: 1e-5)
            }
        }
    }

    @Test func adaptiveKLControllerFollowsZiegler() {
        var c = AdaptiveKLController(initial: 0.1, target: 6, horizon: 10_000)
        c.update(currentKL: 12, episodes: 100)   // error clipped to +0.2
        #expect(abs(c.value - 0.1 * (1 + 0.2 * 100 / 10_000)) < 1e-9)
        c.update(currentKL: 5.4, episodes: 1000)  // error −0.1
        #expect(abs(c.value - 0.1 * 1.002 * (1 - 0.1 * 0.1)) < 1e-8)
    }
}
