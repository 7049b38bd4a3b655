//! Known-answer tests: Appendix A of the spiped spec, which was checked byte
//! for byte against upstream's own C functions.

use sha2::{Digest, Sha256};
use spiped_proto::dh::DhKeypair;
use spiped_proto::kdf::pbkdf2_1;
use spiped_proto::{Handshake, HandshakeConfig, Key, PACKET_LEN, Role};

const A1_YC: &str = "780e314d8331e917b3fd2112a9dccd64392d9b150178f7a1c065eb078d27545f8ab31bb079960dfe9d510e86571cbcb474cbcb0f827f1cc6d9936dfbff12df27450c9c467d8b3179dc325188e23b74720047c01515d2ddafad3de1d696182439c02d964e3387b26fc61068a1878df114479b51ba38ea3cd4f925824a942e5b0a72c92c6be75e95ef547a587aa438588bff3972348247c9d70ccda1f40984d57e377876129f8904294e15013ee5b2fb7dc841c3f7845523806f4b224d54776f46660fa5de8110a6d184f7f2126a2a6b0f93ba487cac9638f296ffd5b32d80f97d3fdaa1badd446818aa66aba953182d401a2781a03e239d895fa8ce3a27902a82";
const A1_HC: &str = "5053e9629326dfb9d4a7e830640dea7f85aa92bd424b61d41b7176ce493cb853";
const A1_YS: &str = "e1cb4489739f82ea68c77ab5c70b66f2f2de8980d85a7e8823cab1484a3f3ff259ce635fb9a354987e636a99f1e5f93823e2d2b243cf41e2ea62b2a59e18a7f3478a39616d1ae82c4f5acf04075bf1933e800c041db4ef143eb32b0a4dfaf801a0cc3212488553b0895617b1e9c830e053fbd7d8b0bf88aeab6993955cfd930901b1850d38ad5c7f506c02c79a5ada7ffe18486530188f499018d057afe2b063785337286b731e74c11814e2d29e02cb76813b12f094526f772783e3d918ae50d47065b5efcbb1e94a81db16727828fe2c6bda77b30d3e655e697f0ea8177883f95dd6e0859059e75bfc287137ad4c8c2ed51be86c00837ed4bea42dc1314164";
const A1_HS: &str = "1ab47a4d4b7c26ea1115803c4c44c2d9f4a0f86347229267e0e3e1ada9a1951e";
const A1_PKT0: &str = "19d28501947e86fee70f041ce57c26383000d6e060e2ae8d46377b703809be05d5aac2aa84c2d2fc3bb8499d0d45b765daadb1febf8d174f3da5d4c2e95bfb48d77492909fc630f5875bea1d8bd6051a99a87fd4d3f8ae728767fcd071fa525cd71b4a8bc6f99152d55ddacab632b07093b2658bc552b2b1f24ecb1daff50dc1e4f0b59ab72790dfbca897ba01b440458e3c6c0a6fe18116e2f93f79a92d1cc7744d1228fcb88bb478d076bae43673e3a8925db811d4ca4096913bbe63082ecdb5daf7d3d32c584d5cdbd323a98b8536e3ba1d7ce2779fcbd453868f33c4c9414a27c0413d30dd24015800862464a97756bfa54edbc459a91b970db827d4456a2aa3e7511f1a6693650d91c18baf2cb5f6f6225af63b6cb86905602713e99cc3bf4d4567352731eebfbb36600a7cd994fa6e4a1f7fbf3e43db173acb2c185c37ae233527ea4b7b9c52ff6187b89f5e3191fb88340c528cb5792bd80710a3b64262d0b59d16bd2d94da253dab75d63fc2117a038604351cb54495520d15c9d6bcf6d7464fb48facc8ab068dd6693090e84d1e809add9f43ee9157c696358ae32dfa17c1612b5f69fba30cf61bd19044bd444a457e75ec79d54b88a42d80fee383bb48e729b4a76077b28311e3a14bcf19f6b379be5e43bdbf4deabdf2a046d752868e82b0643c44c8a9c757129958dd18a6a1d274ba31f7dbc22fcd9b850c560a67bf8367f02425ea9edd794b325229809ff696abcb5dc149560c196121a571a053113ff4a8d2877b26f17b36fea6710d1e7fb8b456b4a383f429172b376d47ee3266ae29293d045898d7575b20e444dff57fce5a6c433214d3c15aa2dcd04f698a26da7deebe4d5e88868c5ff8a165b45a0ef24a2269c0541de66854b3de3ebc668c7b45d1bafdc197512da99552234f022560c56c29c6f51803909d50c20f5c4b81f8b73c012d3c3e2a0e92d154dd96594f5483db08615cd8c8c4f6e3ad049bbf4f3249b54a7d034a34380d1dde9635b92dd0f51c98bb4b8b9f0d367979dca7443a4a9bf29f9881a0f77d337a482afb0e8bbecd8b3904ad2632a5ba5abe0bdb691a3a01f2f8dbd52aedf74e11c74e131a1a1a75b18f7c24728e4cd3015227171325287fa8cc766d43e20369efde28b5934e1e4f8fcd563a7bdf80b1c513e15d0b78feb8763681b3f41a3874c77536bea8a86b406b82a52f26986745da928361569a171fc4873c1b918d44718d4be4240d0bc4c211ef370c3a8c250ee63a5d7089679f02f7ba4253247a01527a4458a8a844c145985fce77a33b52d42b8b852df73b26b88d1c94eb9d052461b61a84a03e0f2f92cf10dc7e525dd43da358bc48fbe86815f8c38a1fc5910a90af7e93e5ad042e547ec929e8ab626d08fd9ac8504fec3f3107dcc5c5faf8ee051e3c91f95b64d312ff14d56e7cf9961eba904ea0ef6f1aac87397503847fb213fa0d46a53b400f6f0bb9c626b81739ec06c0ce4c73ff1ce6";
const A1_PKT1_SHA: &str = "434df3294b851c77df29cbae416c571ac8000fb7ad2859731fedc078698d48d3";
const A1_SPKT0_SHA: &str = "22ddffb77e30c2177d273fd972de73728bc2a63f073e7a77b97b78d272decafd";
const A2_HC: &str = "b712102faa39e764c227d9b383440a8536369bd322e3245f78a85f89826d2366";
const A2_HS: &str = "728fe0a1c3f2fcc1b51ffe8e27db55a3d2c25cb8f9255d31ce7f8545c52d0091";
const A2_PKT0: &str = "2b381230364203d8dacb12c263acf48323a144eda1102fe65067707d24e6bf74320704c9eeb5cdcb8817de4e0418d04164e640aa9b094c76958714f20462f256c7aab810971beb3d3954fb424b2fb66cb023dc023e63fb63e2fe91050af9fed678d25b281205efe5c2e741f0c0e1eb4e087b9c0b536b83375ad3865f47237aa038cfee34725441bfc13a36ddebddfd9a1d4d46afc94f94c6207f6538bd10f7fb4831bf06f11eaff2bb84a2fbd130ec4c1e8652d48e75d4a9e1353406e2e96dbf88b9658aeb44d93ff863a8a88f4b152a8f73593344e57a778181a2f4b13756626bb0d61b0569c5d455bed8f2ae13c7f05fd5685e295654a9ec65c85c9e12e995c3d8ebd8ca492422549721aa5679c6c6f135bbbd1188b3648b60e818180d63d830fa9fd045a940eab5dc9096bb1314acb87d9c0e158f6480385514c82e5c9282cb839fda9b93d8a6f4a4e8cbc3409ee3adb7433a40227c27b3bc9e85c783060833bbc2574b5bdfcd801acca1abaa33eef2992b08bc91700afaa38ecfa02cff2bc57de29d83a2c86c98a3f763f02c92ebcadbc33cc9cd17bd8bea86b241cc7faf92725a83511b0ab903dae6e496072e05ad5c070f6d45f9bb27b8d041e9c1e1dabe2922398f08755754927d5384d128b1664248dee0b5af7b6fe7f5790a63e8263e8bbf2a6a597515f0527f039c0ab437195d2b614f46fd7f01fd80733fb75a7dbdd6e5e94728a8f702b3eae9dd2449e3d5d35e87c34bbc415675732d7a023341d6f46f5951a1e71aa044084bd177276bdd12ff4b6ed2279f0f1522fe13e59ae6e83176d4680088e35394cbc208a9c954000dac643e92219092a8e544a4f3943f62df62486783d29e687f90425ba693cdaed022ee372dfecc46848c9ca0bb6df1ae6d2786e7cbd11d96a808ef054d7f4cda7b157d63cd281632d2188f272552e19017d00963f906ccdad6e16ebd229d981b2b0b4f2f2e69205b63fb548c3e42546312db7f8c048648da13143318277e0e50c85b8aa288d57fe947d75c94a3413b1921b2ff3919ba3cd45d4ea92436150d097ffb62eed878ac5d1647712bfe7197b65ebc8242ae88a67636cd25742b8bdc027dfc58d513f024562bd137fe654e76733d0efbed6ed5724bf8b2513f24a1190acefcbbc5ddb0b0bf24c754f47a2961f45da2e0f0fa75feadebbfef17f6071727af7a709415e13fa366fad24ba8546eb00a25768018e53f16e11fca8fd26fab934c95e020523a3a19602502c341139c2683eff13ddfe51d1482d2455c5cd7da5f5fd1728d90d346f294c0ecebc83fd1dc306aa7435a48ac1af312553b31cb294bfd1ecd2359223827585f19dbccf6448499d9e65fa53ab6ccc14212c986835efd2aee5be802a474c713b328e2bf7b87a73f35b53eb8aa9d01deeed44a31851d3f5d3f3c4bc492e6e043f22cf8ceee41b4d1d24845ffab6f282e0b8d07442be303e02ed079ed35d12c24ca5fbbd10578bdce2e5b";
const A2_PKT1_SHA: &str = "02f7b6824bded69b1302d609a05c262ef9ccc96440d09b79ea18b0236ee877ec";
const A2_SPKT0_SHA: &str = "2057f6879997de51ccb38838ab0bdc6a06149f4fa0809bd799f02d06712f0e23";

fn key() -> Key {
    let file: Vec<u8> = (0u8..32).collect();
    Key::from_file_contents(&file)
}

fn nonce(start: u8) -> [u8; 32] {
    std::array::from_fn(|i| start + i as u8)
}

fn y_one() -> String {
    format!("{}01", "00".repeat(255))
}

struct Expect {
    yc: String,
    hc: &'static str,
    ys: String,
    hs: &'static str,
    pkt0: &'static str,
    pkt1_sha: &'static str,
    spkt0_sha: &'static str,
}

/// Drive a client and a server with the vector inputs and compare every
/// byte that crosses the wire.
fn check(cfg: HandshakeConfig, e: Expect) {
    let kp = |b: u8| (!cfg.no_pfs).then(|| DhKeypair::from_random(&[b; 32]));
    let mut cl = Handshake::new(Role::Client, cfg, &key(), nonce(0x20), kp(0x11));
    let mut sv = Handshake::new(Role::Server, cfg, &key(), nonce(0x40), kp(0x22));

    let nc = cl.pending_output().to_vec();
    let ns = sv.pending_output().to_vec();
    assert_eq!(nc, nonce(0x20));
    assert_eq!(ns, nonce(0x40));
    cl.consume_output(32);
    sv.consume_output(32);
    assert_eq!(sv.feed(&nc).unwrap(), 32);
    assert_eq!(cl.feed(&ns).unwrap(), 32);

    assert!(cl.needs_compute());
    cl.compute().unwrap();
    let yhc = cl.pending_output().to_vec();
    assert_eq!(hex::encode(&yhc[..256]), e.yc);
    assert_eq!(hex::encode(&yhc[256..]), e.hc);
    cl.consume_output(288);
    assert_eq!(sv.feed(&yhc).unwrap(), 288);

    sv.compute().unwrap();
    let yhs = sv.pending_output().to_vec();
    assert_eq!(hex::encode(&yhs[..256]), e.ys);
    assert_eq!(hex::encode(&yhs[256..]), e.hs);
    sv.consume_output(288);
    sv.compute().unwrap();
    assert_eq!(cl.feed(&yhs).unwrap(), 288);
    cl.compute().unwrap();

    let mut c = cl.into_keys().expect("client done");
    let mut s = sv.into_keys().expect("server done");
    let mut pkt = [0u8; PACKET_LEN];
    c.send.seal(b"hello", &mut pkt);
    assert_eq!(hex::encode(pkt), e.pkt0);
    assert_eq!(s.recv.open(&mut pkt).unwrap(), b"hello");
    c.send.seal(&[b'A'; 1024], &mut pkt);
    assert_eq!(hex::encode(Sha256::digest(pkt)), e.pkt1_sha);
    assert_eq!(s.recv.open(&mut pkt).unwrap(), &[b'A'; 1024][..]);
    s.send.seal(b"world", &mut pkt);
    assert_eq!(hex::encode(Sha256::digest(pkt)), e.spkt0_sha);
    assert_eq!(c.recv.open(&mut pkt).unwrap(), b"world");
}

#[test]
fn appendix_a1_with_pfs() {
    check(
        HandshakeConfig::default(),
        Expect {
            yc: A1_YC.into(),
            hc: A1_HC,
            ys: A1_YS.into(),
            hs: A1_HS,
            pkt0: A1_PKT0,
            pkt1_sha: A1_PKT1_SHA,
            spkt0_sha: A1_SPKT0_SHA,
        },
    );
}

#[test]
fn appendix_a2_without_pfs() {
    check(
        HandshakeConfig {
            no_pfs: true,
            require_pfs: false,
        },
        Expect {
            yc: y_one(),
            hc: A2_HC,
            ys: y_one(),
            hs: A2_HS,
            pkt0: A2_PKT0,
            pkt1_sha: A2_PKT1_SHA,
            spkt0_sha: A2_SPKT0_SHA,
        },
    );
}

const A1_DK1: &str = "f7a4ae2b74dae63078b758d154696232c1248aa4e6c9cc877e149675382c7e6b9e761bfe5224d76fe546c6e15ecfad0e1f6ba52d47429b2406c51316b9504a0e";
const A1_YSC: &str = "d25c953ff23b1d5087bc91045b09268f6e0c954e35cf9761ce9c25df4969dd4b6c294a9a49e1f81ae7f4737052c3e0cba234c23bd7c581e10a907cdacf83c2085a7f0ba228c5ab9314208a1cbed2bd278e303045dc90e5f73a3d83daf15b023b611aa1c32737076b5d77ad83687a2004e0f56ed148bf40d49506affd8883cb45e0730e4822e8f8849de15b5757f985118b415e0e7e953e6d5ca6f8c19ed262f09b70b73c99d7cffc0abd9c8c937ec592ac1e4f84941f7c39b2df29131750f74e162ed65462c5326ff9a9c80e96fe9634b1e0a5bc60a8bd655d6ee3ee0360fa0cefb58ec7bbe3005764f6f3762a48b2c2c9e4f91badc62bae69ce4866fad502bf";
const A1_DK2: &str = "b6fa561c5590a5abd166c823cabfe4b4adc4b179566963841385034a403a8d6933687d1f2fc3983693d8f42a4a90ef9f6756cc992a5e87c20397e5c2404871512150a4b7a656e0ab589e43e6af8e87def6567c00af04ba37f5d106aba17834883422806b502c38b1127642591577f02ffef717f7a02497ec175e1973bc0b574a";
const A2_DK2: &str = "eacb21eff425eaa760057ac5c614d51f7fae8f297f97d1129e14c4daf83f8aecb641d7b1399d33977bf97d26984e957997b11f3975cc5abe65ccb2de07cdd100d80fd4784107e45a66b096d0e005f7ff56347ce07e9848953700e37395d6e7dccee30d09cafc4ccf26a6b04ac815b46b329c82c78de49703eb2a4be74557d317";

#[test]
fn appendix_a_derivations() {
    let mut nonces = [0u8; 64];
    nonces[..32].copy_from_slice(&nonce(0x20));
    nonces[32..].copy_from_slice(&nonce(0x40));
    let mut dk1 = [0u8; 64];
    pbkdf2_1(key().as_bytes(), &nonces, &mut dk1);
    assert_eq!(hex::encode(dk1), A1_DK1);

    let c = DhKeypair::from_random(&[0x11; 32]);
    let s = DhKeypair::from_random(&[0x22; 32]);
    assert_eq!(hex::encode(*c.secret.shared(&s.public)), A1_YSC);
    assert_eq!(hex::encode(*s.secret.shared(&c.public)), A1_YSC);

    for (ysc, want) in [
        (hex::decode(A1_YSC).unwrap(), A1_DK2),
        (hex::decode(y_one()).unwrap(), A2_DK2),
    ] {
        let mut salt = nonces.to_vec();
        salt.extend_from_slice(&ysc);
        let mut dk2 = [0u8; 128];
        pbkdf2_1(key().as_bytes(), &salt, &mut dk2);
        assert_eq!(hex::encode(dk2), want);
    }
}
