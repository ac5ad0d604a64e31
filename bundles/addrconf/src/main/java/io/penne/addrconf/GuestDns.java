package io.penne.addrconf;

import io.penne.api.flow.InetAddr;
import io.penne.api.flow.Nat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The resolvers and search domains penne hands the guest through DHCP, DHCPv6
 * and router advertisements, chosen as pasta chooses them ({@code conf.c},
 * {@code get_dns}):
 * <ul>
 * <li>{@code -D}/{@code --dns} addresses (instance property {@code dns}, a
 * comma-separated list) replace the host's resolvers of their IP version;
 * {@code none} among them advertises no resolver at all;</li>
 * <li>otherwise the host's {@code nameserver} lines, each as the guest can
 * reach it ({@link Nat#guestResolver}: a resolver on the host's loopback goes
 * as the --dns-forward or gateway address), dropped if it cannot;</li>
 * <li>search domains from {@code -S}/{@code --search} (property {@code
 * dns.search}, space-separated, {@code none} for none), else the host's
 * {@code search} line;</li>
 * <li>{@code --no-dhcp-dns} and {@code --no-dhcp-search} (properties
 * {@code dhcp.dns} and {@code dhcp.search} = {@code false}) leave them out.</li>
 * </ul>
 * Computed once when the handler attaches; at most three resolvers per IP
 * version, as resolv.conf(5) and pasta ({@code MAXNS}) allow.
 */
record GuestDns(int[] v4, long[] v6, List<String> search) {
    static final int MAX_RESOLVERS = 3;
    static final int MAX_SEARCH = 6;

    static GuestDns of(Map<String, Object> p, Path resolvConf) {
        List<String> lines;
        try {
            lines = Files.readAllLines(resolvConf);
        } catch (IOException | RuntimeException e) {
            lines = List.of(); // no host resolver configuration: nothing to advertise from it
        }
        List<String> nameservers = Nat.nameservers(lines); // read as the handlers' DNS forwarding reads them
        List<String> hostSearch = new ArrayList<>();
        for (String line : lines) {
            String[] w = line.trim().split("\\s+");
            if (w.length >= 2 && w[0].equals("search") && hostSearch.isEmpty())
                hostSearch.addAll(Arrays.asList(w).subList(1, w.length));
        }

        List<long[]> four = new ArrayList<>(), six = new ArrayList<>();
        boolean none = false;
        Object given = p.get("dns");
        if (given != null) {
            for (String a : given.toString().split(",")) {
                a = a.trim();
                if (a.equals("none"))
                    none = true;
                else if (!a.isEmpty())
                    add(InetAddr.parse(a), four, six);
            }
        }
        boolean given4 = !four.isEmpty(), given6 = !six.isEmpty();
        Nat nat = Nat.of(p, nameservers);
        for (String n : nameservers) {
            long[] a;
            try {
                a = InetAddr.parse(n);
            } catch (IllegalArgumentException e) {
                continue;
            }
            if (InetAddr.isV4(a[0], a[1]) ? given4 : given6)
                continue;
            long[] g = nat.guestResolver(a[0], a[1]);
            if (g != null)
                add(g, four, six);
        }
        if (none || "false".equals(String.valueOf(p.get("dhcp.dns")))) {
            four.clear();
            six.clear();
        }

        List<String> search = new ArrayList<>();
        Object s = p.get("dns.search");
        for (String d : s != null ? Arrays.asList(s.toString().trim().split("\\s+")) : hostSearch) {
            if (d.equals("none")) {
                search.clear();
                break;
            }
            // Names DNS cannot carry are left out, and so are non-ASCII ones: DHCP would refuse the whole
            // list (and with it the server) for one of them.
            if (DnsName.encode(d) != null && DnsName.visibleAscii(d) && search.size() < MAX_SEARCH)
                search.add(d);
        }
        if ("false".equals(String.valueOf(p.get("dhcp.search"))))
            search.clear();

        int[] v4 = new int[four.size()];
        for (int i = 0; i < v4.length; i++)
            v4[i] = InetAddr.v4(four.get(i)[1]);
        long[] v6 = new long[2 * six.size()];
        for (int i = 0; i < six.size(); i++) {
            v6[2 * i] = six.get(i)[0];
            v6[2 * i + 1] = six.get(i)[1];
        }
        return new GuestDns(v4, v6, List.copyOf(search));
    }

    private static void add(long[] a, List<long[]> four, List<long[]> six) {
        List<long[]> to = InetAddr.isV4(a[0], a[1]) ? four : six;
        for (long[] b : to)
            if (b[0] == a[0] && b[1] == a[1])
                return; // two loopback resolvers both become the gateway: advertise it once
        if (to.size() < MAX_RESOLVERS)
            to.add(a);
    }
}
