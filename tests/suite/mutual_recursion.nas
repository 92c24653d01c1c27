// expect: E0107 4:17 block `Pong` calls itself
// expect: E0107 8:17 block `Ping` calls itself
block Ping(x: [B, C]) -> [B, C] {
    return x |> Pong
}

block Pong(x: [B, C]) -> [B, C] {
    return x |> Ping
}
