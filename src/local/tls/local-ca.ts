// A throw-away certificate authority for the local stack: the sandbox API and the local control plane
// serve HTTPS/WSS on loopback with certificates it signs. Never used by the agent itself.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface KeyAndCert {
  readonly keyPem: string;
  readonly certPem: string;
}

export interface LocalCa {
  readonly ca: KeyAndCert;
  /** Issues a server certificate for the given DNS names and IP addresses. */
  issueServer(commonName: string, dnsNames: readonly string[], ipAddresses: readonly string[]): KeyAndCert;
}

const VALIDITY_DAYS = 365;

function newKeyPair(): { keyPem: string; privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  // Node generates the RSA key natively (node-forge's pure-JS generation takes seconds).
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  return { keyPem, privateKey: forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e) };
}

function newCertificate(publicKey: forge.pki.rsa.PublicKey): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // A DER INTEGER must be positive and minimal: a first byte in 0x01..0x7f needs neither a sign byte nor
  // allows an illegal leading zero (a random leading 0x00 made OpenSSL reject about one cert in 256).
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  cert.serialNumber = serial.toString('hex');
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60_000);
  cert.validity.notAfter = new Date(now + VALIDITY_DAYS * 24 * 3600_000);
  return cert;
}

export function createLocalCa(name = 'pipeops-local-ca'): LocalCa {
  const caKeys = newKeyPair();
  const caCert = newCertificate(caKeys.publicKey);
  const caSubject = [{ name: 'commonName', value: name }];
  caCert.setSubject(caSubject);
  caCert.setIssuer(caSubject);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(caKeys.privateKey, forge.md.sha256.create());
  const ca: KeyAndCert = { keyPem: caKeys.keyPem, certPem: forge.pki.certificateToPem(caCert) };

  function issueServer(commonName: string, dnsNames: readonly string[], ipAddresses: readonly string[]): KeyAndCert {
    const keys = newKeyPair();
    const cert = newCertificate(keys.publicKey);
    cert.setSubject([{ name: 'commonName', value: commonName }]);
    cert.setIssuer(caSubject);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...dnsNames.map((value) => ({ type: 2, value })),
          ...ipAddresses.map((ip) => ({ type: 7, ip })),
        ],
      },
    ]);
    cert.sign(caKeys.privateKey, forge.md.sha256.create());
    return { keyPem: keys.keyPem, certPem: forge.pki.certificateToPem(cert) };
  }

  return { ca, issueServer };
}

export interface LoopbackTls {
  readonly caPem: string;
  readonly server: KeyAndCert;
}

/** A CA plus one loopback server certificate, the usual need of a local server. */
export function createLoopbackTls(name: string): LoopbackTls {
  const ca = createLocalCa(`${name}-ca`);
  return { caPem: ca.ca.certPem, server: ca.issueServer(name, ['localhost'], ['127.0.0.1', '::1']) };
}

const sharedLoopbackTls = new Map<string, LoopbackTls>();

/**
 * createLoopbackTls made once per name and process. Two RSA keys and two signatures cost most of a second,
 * which servers started many times in one process (the sandbox in tests, test stand-ins) need not pay
 * again: each is the same loopback identity, and a client trusts it through the CA it is given.
 */
export function loopbackTlsFor(name: string): LoopbackTls {
  let tls = sharedLoopbackTls.get(name);
  if (tls === undefined) {
    tls = createLoopbackTls(name);
    sharedLoopbackTls.set(name, tls);
  }
  return tls;
}
